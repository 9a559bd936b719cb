//! An app-side client nobody here wrote: the OpenTelemetry Python SDK with its OTLP/HTTP
//! protobuf exporters (gzip on) sends chat spans and evaluation results to `flightdeck record`,
//! configured only through the standard OTEL_EXPORTER_OTLP_* variables; the calls recorded must
//! say what the app says it sent.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Value, json};

mod recording;
use recording::Recording;

#[test]
#[ignore = "needs the servers of tests/backends/run.sh"]
fn the_python_sdk_exporter_is_understood_call_for_call() {
    let python = std::env::var("FLIGHTDECK_TEST_PYTHON")
        .expect("FLIGHTDECK_TEST_PYTHON: run through tests/backends/run.sh");
    let mut recording = Recording::start("[sources.otlp]\njoin_window_ms = 1000\n", &[]);
    let app = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/backends/otel_app.py"
        ))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &recording.url)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .output()
        .unwrap();
    assert!(
        app.status.success(),
        "otel_app.py failed: {}",
        String::from_utf8_lossy(&app.stderr)
    );
    let sent: BTreeMap<String, Value> = serde_json::from_slice(&app.stdout).unwrap();
    assert_eq!(sent.len(), 5);

    let summary = recording.stop();
    assert!(
        summary.contains("received 5 calls and 0 changes, rejected 0, dropped 0"),
        "{summary}"
    );
    let recorded: BTreeMap<String, Value> = recording
        .calls()
        .into_iter()
        .map(|call| {
            let evals: BTreeMap<&String, Value> = call
                .evals
                .iter()
                .map(|(name, eval)| {
                    let graded = match eval {
                        flightdeck::model::Eval::Graded { label, score, .. } => {
                            json!({"label": label, "score": score})
                        }
                        other => json!({ "unexpected": other }),
                    };
                    (name, graded)
                })
                .collect();
            let read = json!({
                "model_requested": call.model_requested,
                "model_served": call.model_served,
                "status": call.status,
                "tokens_in": call.tokens_in,
                "tokens_out": call.tokens_out,
                "prompt_version": call.prompt_version,
                "latency_ms": call.latency_ms,
                "evals": evals,
                "feature": call.feature,
                "input": call.input,
                "output": call.output,
            });
            (call.request_id.clone().unwrap(), read)
        })
        .collect();
    // The server span around the calls is not a model call and is not recorded.
    assert_eq!(
        recorded.keys().collect::<Vec<_>>(),
        sent.keys().collect::<Vec<_>>()
    );
    for (span_id, expected) in &sent {
        let got = &recorded[span_id];
        for (field, value) in expected.as_object().unwrap() {
            let got_value = &got[field];
            let same = match (value.as_f64(), got_value.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => value == got_value,
            };
            assert!(
                same,
                "span {span_id}: {field} sent {value}, recorded {got_value}"
            );
        }
        assert_eq!(got["feature"], "support-answer");
    }
}
