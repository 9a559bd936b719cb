//! `cargo bench --bench otlp`: the OTLP receiver under load. Four connections on loopback post
//! protobuf batches of 200 chat spans (1 KB answers) as fast as they are answered, in two runs:
//! the receiver alone (its consumer only counts), then feeding the cockpit: what the receiver
//! hands on goes to the `App` as the runtime does, while a draw loop renders the whole screen
//! into a `TestBackend` every 33 ms. Prints spans/s, resident memory at start, halfway and end,
//! and frame times under load. FLIGHTDECK_BENCH_SECONDS sets each run's length (default 30).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use flightdeck::app::{Action, App, Settings};
use flightdeck::config::sources::OtlpConfig;
use flightdeck::engine::{Engine, EngineConfig};
use flightdeck::runtime;
use flightdeck::sim::schema_registry;
use flightdeck::sources::otlp::{self, Received, ReceiverStats};
use flightdeck::ui::theme::Theme;
use flightdeck::ui::{self, View};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Any};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

const CONNECTIONS: usize = 4;
const SPANS_PER_BATCH: usize = 200;
const FRAME: Duration = Duration::from_millis(33);

fn attribute(key: &str, value: Any) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    attribute(key, Any::StringValue(value.into()))
}

const QUESTIONS: &[&str] = &[
    "Where is my order? It was due on Monday and the tracking page has not moved since.",
    "How do I get a refund for a damaged item that arrived yesterday?",
    "Can I change the delivery address on an order that has already shipped?",
    "My discount code says it expired but the email says it is valid until Friday.",
];

/// A chat span as the OpenTelemetry GenAI instrumentations send one, with a 1 KB answer.
fn chat_span(n: usize) -> Span {
    let answer = format!(
        "{{\"answer\": \"{}\", \"citations\": [\"kb-12\"]}}",
        "Thanks for reaching out. Your order left our warehouse and is with the carrier; "
            .repeat(12)
    );
    let question = QUESTIONS[n % QUESTIONS.len()];
    Span {
        trace_id: vec![1; 16],
        span_id: vec![1; 8],
        name: "chat gpt-4o".into(),
        kind: 3,
        attributes: vec![
            text("gen_ai.operation.name", "chat"),
            text("gen_ai.provider.name", "openai"),
            text("gen_ai.request.model", "gpt-4o"),
            text("gen_ai.response.model", "gpt-4o-2024-08-06"),
            text("gen_ai.response.id", &format!("chatcmpl-{n}")),
            attribute("gen_ai.usage.input_tokens", Any::IntValue(412)),
            attribute("gen_ai.usage.output_tokens", Any::IntValue(260)),
            text("gen_ai.prompt.name", "support-answer"),
            text("gen_ai.prompt.version", "v8"),
            text(
                "gen_ai.input.messages",
                &serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": question}]}])
                    .to_string(),
            ),
            text(
                "gen_ai.output.messages",
                &serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}])
                    .to_string(),
            ),
            text("intent", ["order-status", "refund", "address", "discount"][n % 4]),
        ],
        ..Default::default()
    }
}

/// The batch a connection sends: fresh ids (the receiver takes a repeated span once) and
/// times ending now.
fn batch(template: &ExportTraceServiceRequest, connection: usize, sequence: u64) -> Vec<u8> {
    let mut request = template.clone();
    let end = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    for (index, span) in request.resource_spans[0].scope_spans[0]
        .spans
        .iter_mut()
        .enumerate()
    {
        let id = (sequence << 16) | ((connection as u64) << 12) | index as u64;
        span.trace_id[..8].copy_from_slice(&id.to_be_bytes());
        span.span_id = (id | 1 << 63).to_be_bytes().to_vec();
        span.start_time_unix_nano = end - 800_000_000 - (index as u64 % 7) * 90_000_000;
        span.end_time_unix_nano = end;
    }
    request.encode_to_vec()
}

/// Posts batches back to back until told to stop; counts spans accepted and refused.
async fn load(
    url: String,
    connection: usize,
    template: Arc<ExportTraceServiceRequest>,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
) {
    let client = reqwest::Client::new();
    let mut sequence = 0;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let body = batch(&template, connection, sequence);
        let response = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .expect("the receiver answers");
        match response.status().as_u16() {
            200 => accepted.fetch_add(SPANS_PER_BATCH as u64, Ordering::Relaxed),
            503 => {
                refused.fetch_add(SPANS_PER_BATCH as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
                0
            }
            other => panic!("unexpected status {other}"),
        };
    }
}

fn resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A receiver on a free port, the load generators posting to it, and the consumer's end.
struct Load {
    stats: ReceiverStats,
    received: mpsc::Receiver<Received>,
    stop_server: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    generators: Vec<tokio::task::JoinHandle<()>>,
    began: Instant,
    start_mb: f64,
}

impl Load {
    async fn start(template: &Arc<ExportTraceServiceRequest>) -> Self {
        let config = OtlpConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..OtlpConfig::default()
        };
        let receiver = otlp::bind(&config).await.unwrap();
        let url = format!("http://{}/v1/traces", receiver.local_addr());
        let stats = receiver.stats();
        let (out, received) = mpsc::channel(64);
        let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(receiver.serve(out, async {
            let _ = server_stopped.await;
        }));
        let start_mb = resident_mb();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let generators = (0..CONNECTIONS)
            .map(|connection| {
                tokio::spawn(load(
                    url.clone(),
                    connection,
                    Arc::clone(template),
                    Arc::clone(&stop),
                    Arc::clone(&accepted),
                    Arc::clone(&refused),
                ))
            })
            .collect();
        Self {
            stats,
            received,
            stop_server,
            server,
            stop,
            accepted,
            refused,
            generators,
            began: Instant::now(),
            start_mb,
        }
    }

    /// Stops the generators and the receiver; prints the throughput and memory.
    async fn finish(mut self, name: &str, calls_consumed: u64, mid_mb: f64, calls_at_mid: u64) {
        let elapsed = self.began.elapsed().as_secs_f64();
        let end_mb = resident_mb();
        self.stop.store(true, Ordering::Relaxed);
        for generator in self.generators {
            generator.await.unwrap();
        }
        let _ = self.stop_server.send(());
        while self.received.recv().await.is_some() {}
        self.server.await.unwrap();
        println!(
            "{name}: {:>6.0} spans/s accepted, {:>6.0} calls/s consumed; {} spans refused with 503 (counted dropped: {}), {} rejected",
            self.accepted.load(Ordering::Relaxed) as f64 / elapsed,
            calls_consumed as f64 / elapsed,
            self.refused.load(Ordering::Relaxed),
            self.stats.dropped(),
            self.stats.rejected(),
        );
        println!(
            "{name}: resident memory {:.0} MB at start, {mid_mb:.0} MB halfway, {end_mb:.0} MB at the end \
             ({:.0} bytes per call consumed since halfway)",
            self.start_mb,
            (end_mb - mid_mb) * 1024.0 * 1024.0 / (calls_consumed - calls_at_mid).max(1) as f64
        );
    }
}

/// The receiver alone: its consumer takes every batch and only counts it.
async fn receiver_alone(template: &Arc<ExportTraceServiceRequest>, seconds: u64) {
    let mut load = Load::start(template).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let halfway = tokio::time::Instant::now() + Duration::from_secs(seconds / 2);
    let (mut consumed, mut mid_mb, mut calls_at_mid) = (0, f64::NAN, 0);
    loop {
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(deadline) => break,
            () = tokio::time::sleep_until(halfway), if mid_mb.is_nan() => {
                mid_mb = resident_mb();
                calls_at_mid = consumed;
            }
            Some(batch) = load.received.recv() => {
                if let Received::Calls(calls) = batch {
                    consumed += calls.len() as u64;
                }
            }
        }
    }
    load.finish("receiver alone", consumed, mid_mb, calls_at_mid)
        .await;
}

/// The receiver feeding the cockpit: the runtime's loop, with a frame every 33 ms.
async fn into_the_cockpit(template: &Arc<ExportTraceServiceRequest>, seconds: u64) {
    let settings = Settings {
        actor: "bench".into(),
        source: "otlp".into(),
        read_only: false,
        dry_run: false,
        speed: None,
        present: false,
        local_offset: chrono::FixedOffset::east_opt(0).expect("UTC"),
        drill: None,
    };
    let mut app = App::new(
        settings,
        Engine::new(EngineConfig::default(), schema_registry()),
        Utc::now(),
    );
    let theme = Theme::dark();
    let view = View::default();
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    let mut load = Load::start(template).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let halfway = tokio::time::Instant::now() + Duration::from_secs(seconds / 2);
    let mut frames = tokio::time::interval(FRAME);
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut frame_times, mut update_times) = (Vec::new(), Vec::new());
    let (mut consumed, mut mid_mb, mut calls_at_mid) = (0, f64::NAN, 0);
    loop {
        // A frame that is due goes before the next batch, so a backlog never holds it up.
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(deadline) => break,
            () = tokio::time::sleep_until(halfway), if mid_mb.is_nan() => {
                mid_mb = resident_mb();
                calls_at_mid = consumed;
            }
            scheduled = frames.tick() => {
                terminal.draw(|f| ui::draw(f, &app, &view, &theme)).unwrap();
                // From when the frame was due to when it was drawn: the wait behind an update
                // in progress counts.
                frame_times.push(scheduled.elapsed());
            }
            Some(batch) = load.received.recv() => {
                // As the cockpit's loop does: the batches already waiting fold into one update.
                let (merged, after) = runtime::coalesce(Action::from(batch.into_event(Utc::now())), || {
                    load.received.try_recv().ok().map(|b| Action::from(b.into_event(Utc::now())))
                });
                for action in std::iter::once(merged).chain(after) {
                    if let Action::Observed { calls, .. } = &action {
                        consumed += calls.len() as u64;
                    }
                    let update = Instant::now();
                    app.update(action);
                    update_times.push(update.elapsed());
                }
            }
        }
    }
    load.finish("into the cockpit", consumed, mid_mb, calls_at_mid)
        .await;
    frame_times.sort_unstable();
    update_times.sort_unstable();
    println!(
        "into the cockpit: frame time under load (due to drawn, 160x45) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} frames",
        ms(percentile(&frame_times, 0.5)),
        ms(percentile(&frame_times, 0.99)),
        ms(*frame_times.last().unwrap()),
        frame_times.len()
    );
    println!(
        "into the cockpit: app update per coalesced batch (up to 4,096 calls) p50 {:.1} ms, p99 {:.1} ms over {} updates",
        ms(percentile(&update_times, 0.5)),
        ms(percentile(&update_times, 0.99)),
        update_times.len()
    );
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds: u64 = std::env::var("FLIGHTDECK_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let template = Arc::new(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "support-answer")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..SPANS_PER_BATCH).map(chat_span).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    println!(
        "otlp: {CONNECTIONS} connections posting {SPANS_PER_BATCH}-span protobuf batches of {} KB, {seconds} s a run",
        batch(&template, 0, 0).len() / 1024
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        receiver_alone(&template, seconds).await;
        into_the_cockpit(&template, seconds).await;
    });
}
