//! The OTLP/HTTP receiver in process, over loopback: what each kind of body becomes, and every
//! status code it answers with. The last test runs `flightdeck record` for the bearer token and
//! the signal that ends it.

use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use flightdeck::config::sources::OtlpConfig;
use flightdeck::model::{Call, CallStatus, Change, ChangeKind};
use flightdeck::sources::SourceEvent;
use flightdeck::sources::otlp::{self, Received, ReceiverStats};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, KeyValue, KeyValueList, any_value::Value as Any,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

mod recording;
mod support;
use recording::Recording;
use support::wait;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
/// 2026-03-14T13:15:00Z
const START_NANOS: u64 = 1_773_494_100_000_000_000;
const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 3, 0x81, 3, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];

/// `google.rpc.Status`, as the spec says every 4xx and 5xx body is.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn text(key: &str, value: &str) -> KeyValue {
    attribute(key, Any::StringValue(value.into()))
}

fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, Any::IntValue(value))
}

fn attribute(key: &str, value: Any) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn span_id(n: u8) -> Vec<u8> {
    vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, n]
}

fn span_hex(n: u8) -> String {
    span_id(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// A span `n` that took `ms` milliseconds, with the attributes and events given.
fn span(n: u8, ms: u64, attributes: Vec<KeyValue>, events: Vec<span::Event>) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: span_id(n),
        name: format!("chat {n}"),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: START_NANOS,
        end_time_unix_nano: START_NANOS + ms * 1_000_000,
        attributes,
        events,
        ..Default::default()
    }
}

fn chat(model: &str) -> Vec<KeyValue> {
    vec![
        text("gen_ai.operation.name", "chat"),
        text("gen_ai.request.model", model),
    ]
}

fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "support-answer")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn evaluation_log(n: u8, name: &str, label: &str, score: f64) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    event_name: "gen_ai.evaluation.result".into(),
                    trace_id: TRACE.to_vec(),
                    span_id: span_id(n),
                    attributes: vec![
                        text("gen_ai.evaluation.name", name),
                        text("gen_ai.evaluation.score.label", label),
                        attribute("gen_ai.evaluation.score.value", Any::DoubleValue(score)),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn config() -> OtlpConfig {
    OtlpConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        max_body_bytes: 1 << 20,
        join_window_ms: 0,
        ..OtlpConfig::default()
    }
}

/// A receiver serving on a free port, and the test's end of it.
struct Running {
    url: String,
    stats: ReceiverStats,
    received: mpsc::Receiver<Received>,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
    client: reqwest::Client,
}

async fn start(config: OtlpConfig, out_capacity: usize) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let receiver = otlp::bind(&config).await.unwrap();
    let url = format!("http://{}", receiver.local_addr());
    let stats = receiver.stats();
    let (out, received) = mpsc::channel(out_capacity);
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(receiver.serve(out, async {
        let _ = stopped.await;
    }));
    Running {
        url,
        stats,
        received,
        stop: Some(stop),
        served,
        client: reqwest::Client::new(),
    }
}

impl Running {
    async fn post(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> reqwest::Response {
        let mut request = self.client.post(format!("{}{path}", self.url)).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn export(&self, request: &ExportTraceServiceRequest) -> ExportTraceServiceResponse {
        let response = self
            .post(
                "/v1/traces",
                &[("content-type", PROTOBUF)],
                request.encode_to_vec(),
            )
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], PROTOBUF);
        ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap()
    }

    /// The next batch handed on, within five seconds.
    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.received.recv())
            .await
            .expect("a batch within 5 s")
            .expect("the receiver still serving")
    }

    async fn next_calls(&mut self) -> Vec<Call> {
        match self.next().await {
            Received::Calls(calls) => calls,
            other => panic!("expected calls, got {other:?}"),
        }
    }

    /// Stops the receiver and returns every call it still handed on.
    async fn stop(mut self) -> Vec<Call> {
        self.stop.take().unwrap().send(()).unwrap();
        let mut calls = Vec::new();
        while let Some(received) = self.received.recv().await {
            if let Received::Calls(batch) = received {
                calls.extend(batch);
            }
        }
        self.served.await.unwrap();
        calls
    }
}

async fn rpc_status(response: reqwest::Response) -> RpcStatus {
    let json = response.headers()["content-type"] == JSON;
    let bytes = response.bytes().await.unwrap();
    if json {
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        RpcStatus {
            code: value["code"].as_i64().unwrap() as i32,
            message: value["message"].as_str().unwrap().into(),
        }
    } else {
        RpcStatus::decode(bytes).unwrap()
    }
}

#[tokio::test]
async fn a_protobuf_chat_span_in_current_genai_names_becomes_a_call() {
    let mut receiver = start(config(), 16).await;
    let mut attributes = chat("gpt-4o");
    attributes.extend([
        text("gen_ai.response.model", "gpt-4o-2024-08-06"),
        text("gen_ai.provider.name", "openai"),
        text("gen_ai.response.id", "chatcmpl-1"),
        int("gen_ai.usage.input_tokens", 412),
        int("gen_ai.usage.output_tokens", 96),
        text("gen_ai.prompt.name", "support-answer"),
        text("gen_ai.prompt.version", "v8"),
        text(
            "gen_ai.input.messages",
            r#"[{"role":"user","parts":[{"type":"text","content":"Where is my order?"}]}]"#,
        ),
        text(
            "gen_ai.output.messages",
            r#"[{"role":"assistant","parts":[{"type":"text","content":"It ships today."}]}]"#,
        ),
        text("intent", "order-status"),
    ]);
    let eval = span::Event {
        time_unix_nano: START_NANOS + 900_000_000,
        name: "gen_ai.evaluation.result".into(),
        attributes: vec![
            text("gen_ai.evaluation.name", "hallucination"),
            text("gen_ai.evaluation.score.label", "factual"),
        ],
        ..Default::default()
    };
    let answer = receiver
        .export(&traces(vec![span(1, 812, attributes, vec![eval])]))
        .await;
    assert_eq!(answer.partial_success, None);
    let calls = receiver.next_calls().await;
    assert_eq!(
        serde_json::to_value(&calls).unwrap(),
        json!([{
            "ts": "2026-03-14T13:15:00.812Z", "feature": "support-answer",
            "model_requested": "gpt-4o", "model_served": "gpt-4o-2024-08-06",
            "status": "ok", "latency_ms": 812.0, "request_id": "chatcmpl-1", "provider": "openai",
            "prompt_id": "support-answer", "prompt_version": "v8",
            "input": "Where is my order?", "output": "It ships today.",
            "tokens_in": 412, "tokens_out": 96,
            "evals": {"hallucination": {"label": "factual"}},
            "attributes": {"intent": "order-status"},
        }])
    );
    let status = receiver.stats.status("otlp");
    assert_eq!(
        (status.received, status.rejected, status.dropped),
        (1, 0, 0)
    );
    assert!(status.last_data.is_some());
}

#[tokio::test]
async fn an_otlp_json_body_with_older_genai_names_and_an_error_status() {
    let mut receiver = start(config(), 16).await;
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "support-answer"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b101",
            "parentSpanId": "eee19b7ec3c1b100", "name": "chat gpt-4o", "kind": 3,
            "startTimeUnixNano": "1773494100000000000", "endTimeUnixNano": "1773494130000000000",
            "attributes": [
                {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "412"}},
                {"key": "error.type", "value": {"stringValue": "openai.APITimeoutError"}}
            ],
            "events": [{"timeUnixNano": "1773494100000000000", "name": "gen_ai.user.message",
                        "attributes": [{"key": "content", "value": {"stringValue": "Where is my order?"}}]}],
            "status": {"code": 2, "message": "Request timed out."}
        }]}]
    }]});
    let response = receiver
        .post(
            "/v1/traces",
            &[("content-type", "application/json; charset=utf-8")],
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], JSON);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({})
    );
    let call = receiver.next_calls().await.remove(0);
    assert_eq!(call.status, CallStatus::Timeout);
    assert_eq!(call.provider.as_deref(), Some("openai"));
    assert_eq!(call.tokens_in, Some(412));
    assert_eq!(call.latency_ms, 30_000.0);
    assert_eq!(call.input.as_deref(), Some("Where is my order?"));
    assert_eq!(call.request_id.as_deref(), Some("eee19b7ec3c1b101"));
}

#[tokio::test]
async fn a_gzipped_openinference_span_with_annotations() {
    let mut receiver = start(config(), 16).await;
    let attributes = vec![
        text("openinference.span.kind", "LLM"),
        text("llm.model_name", "claude-sonnet-4"),
        text("llm.provider", "anthropic"),
        int("llm.token_count.prompt", 30),
        int("llm.token_count.completion", 7),
        text("llm.input_messages.0.message.role", "user"),
        text("llm.input_messages.0.message.content", "Cancel my plan"),
        text("llm.output_messages.0.message.role", "assistant"),
        text("llm.output_messages.0.message.content", "Done."),
        text("annotations.0.annotation.name", "refusal"),
        text("annotations.0.annotation.label", "answered"),
    ];
    let mut request = traces(vec![span(2, 1500, attributes, vec![])]);
    request.resource_spans[0].resource = Some(Resource {
        attributes: vec![text("openinference.project.name", "billing-bot")],
        ..Default::default()
    });
    let response = receiver
        .post(
            "/v1/traces",
            &[("content-type", PROTOBUF), ("content-encoding", "gzip")],
            gzip(&request.encode_to_vec()),
        )
        .await;
    assert_eq!(response.status(), 200);
    let call = receiver.next_calls().await.remove(0);
    assert_eq!(call.feature, "billing-bot");
    assert_eq!(call.model_requested, "claude-sonnet-4");
    assert_eq!((call.tokens_in, call.tokens_out), (Some(30), Some(7)));
    assert_eq!(call.output.as_deref(), Some("Done."));
    assert_eq!(call.eval_flag("refusal"), Some(false));
}

#[tokio::test]
async fn evaluation_log_records_join_their_call_arriving_before_or_after_it() {
    let mut receiver = start(
        OtlpConfig {
            join_window_ms: 400,
            ..config()
        },
        16,
    )
    .await;
    let post_logs = |request: ExportLogsServiceRequest| {
        let receiver = &receiver;
        async move {
            let response = receiver
                .post(
                    "/v1/logs",
                    &[("content-type", PROTOBUF)],
                    request.encode_to_vec(),
                )
                .await;
            assert_eq!(response.status(), 200);
            ExportLogsServiceResponse::decode(response.bytes().await.unwrap()).unwrap()
        }
    };
    // Before its span.
    assert_eq!(
        post_logs(evaluation_log(3, "hallucination", "hallucinated", 0.9))
            .await
            .partial_success,
        None
    );
    receiver
        .export(&traces(vec![
            span(3, 500, chat("gpt-4o"), vec![]),
            span(4, 500, chat("gpt-4o"), vec![]),
        ]))
        .await;
    // After its span, within the window.
    post_logs(evaluation_log(4, "hallucination", "factual", 0.1)).await;
    // Never followed by its span.
    post_logs(evaluation_log(9, "hallucination", "factual", 0.1)).await;
    let calls = receiver.next_calls().await;
    let flags: Vec<_> = calls
        .iter()
        .map(|c| (c.request_id.clone().unwrap(), c.eval_flag("hallucination")))
        .collect();
    assert_eq!(
        flags,
        [(span_hex(3), Some(true)), (span_hex(4), Some(false))]
    );
    // The join ages evaluations on std's clock, which a paused tokio clock cannot move.
    wait::until_async("the orphan evaluation to expire", async || {
        receiver.stats.rejected() > 0
    })
    .await;
    assert_eq!(receiver.stats.rejected(), 1);
    let reason = receiver.stats.last_error().unwrap();
    assert!(
        reason.contains(&span_hex(9)) && reason.contains("join window"),
        "{reason}"
    );
}

fn kvlist(pairs: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(Any::KvlistValue(KeyValueList { values: pairs })),
    }
}

fn logs(log_records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn older_genai_message_log_records_fill_their_calls_input_and_output() {
    let mut receiver = start(
        OtlpConfig {
            join_window_ms: 300,
            ..config()
        },
        16,
    )
    .await;
    // As opentelemetry-instrumentation-openai-v2 sends them: the text in the body.
    let user_message = LogRecord {
        trace_id: TRACE.to_vec(),
        span_id: span_id(5),
        attributes: vec![text("event.name", "gen_ai.user.message")],
        body: Some(kvlist(vec![text("content", "Where is my refund?")])),
        ..Default::default()
    };
    let choice = LogRecord {
        event_name: "gen_ai.choice".into(),
        trace_id: TRACE.to_vec(),
        span_id: span_id(5),
        body: Some(kvlist(vec![
            int("index", 0),
            text("finish_reason", "stop"),
            attribute(
                "message",
                Any::KvlistValue(KeyValueList {
                    values: vec![text("content", "It was sent on Monday.")],
                }),
            ),
        ])),
        ..Default::default()
    };
    let application_log = LogRecord {
        body: Some(AnyValue {
            value: Some(Any::StringValue("cache warmed".into())),
        }),
        ..Default::default()
    };
    let response = receiver
        .post(
            "/v1/logs",
            &[("content-type", PROTOBUF)],
            logs(vec![user_message, choice, application_log]).encode_to_vec(),
        )
        .await;
    assert_eq!(response.status(), 200);
    receiver
        .export(&traces(vec![span(5, 40, chat("gpt-4o"), vec![])]))
        .await;
    let calls = receiver.next_calls().await;
    assert_eq!(calls[0].input.as_deref(), Some("Where is my refund?"));
    assert_eq!(calls[0].output.as_deref(), Some("It was sent on Monday."));
    assert_eq!(receiver.stats.skipped(), 1);
    assert_eq!(receiver.stats.rejected(), 0);
}

#[tokio::test]
async fn a_bad_evaluation_log_record_is_a_partial_success() {
    let receiver = start(config(), 16).await;
    let mut request = evaluation_log(5, "hallucination", "x", 0.5);
    request.resource_logs[0].scope_logs[0].log_records[0]
        .attributes
        .remove(0);
    let response = receiver
        .post(
            "/v1/logs",
            &[("content-type", PROTOBUF)],
            request.encode_to_vec(),
        )
        .await;
    let answer = ExportLogsServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 1);
    assert!(
        partial.error_message.contains("gen_ai.evaluation.name"),
        "{}",
        partial.error_message
    );
}

#[tokio::test]
async fn llm_spans_that_cannot_be_read_are_a_partial_success_and_the_rest_are_kept() {
    let mut receiver = start(config(), 16).await;
    let tool = span(
        7,
        5,
        vec![text("gen_ai.operation.name", "execute_tool")],
        vec![],
    );
    let no_model = span(8, 5, vec![text("gen_ai.operation.name", "chat")], vec![]);
    let bad_tokens = span(
        9,
        5,
        [
            chat("gpt-4o"),
            vec![text("gen_ai.usage.input_tokens", "many")],
        ]
        .concat(),
        vec![],
    );
    let good = span(6, 5, chat("gpt-4o"), vec![]);
    let answer = receiver
        .export(&traces(vec![tool, no_model, good, bad_tokens]))
        .await;
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.contains(&span_hex(8))
            && partial.error_message.contains("gen_ai.request.model")
            && partial.error_message.contains("and 1 more"),
        "{}",
        partial.error_message
    );
    let calls = receiver.next_calls().await;
    assert_eq!(calls.len(), 1);
    let status = receiver.stats.status("otlp");
    assert_eq!(status.rejected, 2);
    assert_eq!(
        status.skipped, 1,
        "the tool span is passed over, and counted"
    );
}

#[tokio::test]
async fn undecodable_bodies_wrong_types_and_oversized_bodies_are_refused_and_counted() {
    let receiver = start(config(), 16).await;
    let garbage = receiver
        .post(
            "/v1/traces",
            &[("content-type", PROTOBUF)],
            b"\x0a\xff\xff\xff\xff\x0fnot protobuf".to_vec(),
        )
        .await;
    assert_eq!(garbage.status(), 400);
    assert_eq!(garbage.headers()["content-type"], PROTOBUF);
    let status = rpc_status(garbage).await;
    assert_eq!(status.code, 3);
    assert!(
        status.message.contains("ExportTraceServiceRequest"),
        "{}",
        status.message
    );

    let bad_json = receiver
        .post(
            "/v1/traces",
            &[("content-type", JSON)],
            b"{\"resourceSpans\": [".to_vec(),
        )
        .await;
    assert_eq!(bad_json.status(), 400);
    assert!(rpc_status(bad_json).await.message.contains("line 1"));

    let text_body = receiver
        .post(
            "/v1/traces",
            &[("content-type", "text/plain")],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(text_body.status(), 415);
    let no_type = receiver.post("/v1/logs", &[], b"hello".to_vec()).await;
    assert_eq!(no_type.status(), 415);
    let brotli = receiver
        .post(
            "/v1/traces",
            &[("content-type", PROTOBUF), ("content-encoding", "br")],
            vec![1],
        )
        .await;
    assert_eq!(brotli.status(), 415);

    let too_large = receiver
        .post(
            "/v1/traces",
            &[("content-type", PROTOBUF)],
            vec![0; (1 << 20) + 1],
        )
        .await;
    assert_eq!(too_large.status(), 413);
    // A gzip bomb: 8 KB on the wire, 64 MB once decompressed.
    let bomb = gzip(&vec![0; 64 << 20]);
    assert!(bomb.len() < 100_000);
    let exploded = receiver
        .post(
            "/v1/traces",
            &[("content-type", PROTOBUF), ("content-encoding", "gzip")],
            bomb,
        )
        .await;
    assert_eq!(exploded.status(), 413);
    assert!(
        rpc_status(exploded)
            .await
            .message
            .contains("once decompressed")
    );
    let not_gzip = receiver
        .post(
            "/v1/traces",
            &[("content-type", PROTOBUF), ("content-encoding", "gzip")],
            b"plain".to_vec(),
        )
        .await;
    assert_eq!(not_gzip.status(), 400);

    let get = receiver
        .client
        .get(format!("{}/v1/traces", receiver.url))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    let unknown = receiver
        .post("/v1/metrics", &[("content-type", PROTOBUF)], vec![])
        .await;
    assert_eq!(unknown.status(), 404);

    let status = receiver.stats.status("otlp");
    // Each refused body counts once; 404 and 405 never reached a handler.
    assert_eq!(status.rejected, 8);
    assert_eq!(status.received, 0);
}

#[tokio::test]
async fn a_small_body_of_too_many_records_is_refused_before_decoding() {
    let receiver = start(config(), 16).await;
    let empty_spans = traces(vec![Span::default(); 100_001]).encode_to_vec();
    assert!(empty_spans.len() < 300_000);
    let response = receiver
        .post("/v1/traces", &[("content-type", PROTOBUF)], empty_spans)
        .await;
    assert_eq!(response.status(), 413);
    let message = rpc_status(response).await.message;
    assert!(
        message.contains("100001 spans") && message.contains("100000"),
        "{message}"
    );
    let entries: Vec<String> = (0..100_001).map(|_| "{}".to_owned()).collect();
    let json_logs = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        entries.join(",")
    );
    let response = receiver
        .post(
            "/v1/logs",
            &[("content-type", JSON)],
            json_logs.into_bytes(),
        )
        .await;
    assert_eq!(response.status(), 413);
    assert!(
        rpc_status(response)
            .await
            .message
            .contains("100001 log records")
    );
    assert_eq!(receiver.stats.rejected(), 2);
}

#[tokio::test]
async fn nothing_already_received_is_lost_after_an_error() {
    let receiver = start(config(), 16).await;
    receiver
        .export(&traces(vec![span(1, 5, chat("gpt-4o"), vec![])]))
        .await;
    let garbage = receiver
        .post("/v1/traces", &[("content-type", PROTOBUF)], vec![0xff; 10])
        .await;
    assert_eq!(garbage.status(), 400);
    receiver
        .export(&traces(vec![span(2, 5, chat("gpt-4o"), vec![])]))
        .await;
    let calls = receiver.stop().await;
    let ids: Vec<_> = calls
        .iter()
        .map(|c| c.request_id.clone().unwrap())
        .collect();
    assert_eq!(ids, [span_hex(1), span_hex(2)]);
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_counts_the_refused_calls() {
    // The consumer reads nothing yet, so calls pile up in the receiver's queue of 5.
    let receiver = start(
        OtlpConfig {
            queue_capacity: 5,
            ..config()
        },
        1,
    )
    .await;
    let mut accepted = 0;
    let mut refused = None;
    for n in 0..10u8 {
        let batch = traces(vec![
            span(2 * n, 5, chat("gpt-4o"), vec![]),
            span(2 * n + 1, 5, chat("gpt-4o"), vec![]),
        ]);
        let response = receiver
            .post(
                "/v1/traces",
                &[("content-type", PROTOBUF)],
                batch.encode_to_vec(),
            )
            .await;
        if response.status() == 503 {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), 200);
        accepted += 2;
    }
    let refused = refused.expect("a 503 once the queue is full");
    assert_eq!(refused.headers()["retry-after"], "2");
    let status = rpc_status(refused).await;
    assert_eq!(status.code, 14);
    assert!(status.message.contains("retry later"), "{}", status.message);
    assert_eq!(receiver.stats.dropped(), 2);
    assert_eq!(receiver.stats.status("otlp").dropped, 2);
    // Everything that was accepted reaches the consumer once it reads.
    assert_eq!(receiver.stop().await.len(), accepted);
}

/// A cockpit that takes nothing in: its bounded channel fills, the feed waits, the receiver's
/// queue fills, and exporters are answered 503 to retry later, instead of memory growing.
#[tokio::test]
async fn a_consumer_that_falls_behind_makes_the_receiver_answer_503() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let receiver = otlp::bind(&OtlpConfig {
        queue_capacity: 5,
        ..config()
    })
    .await
    .unwrap();
    let url = format!("http://{}/v1/traces", receiver.local_addr());
    let stats = receiver.stats();
    let (cockpit, _never_read) = mpsc::channel::<SourceEvent>(1);
    otlp::feed(receiver, cockpit);
    let client = reqwest::Client::new();
    let mut accepted = 0;
    // Enough batches to fill every channel on the way (the feed's 64, the cockpit's 1) and the queue.
    for n in 0..=255u8 {
        let batch = traces(vec![span(n, 5, chat("gpt-4o"), vec![])]);
        let response = client
            .post(&url)
            .header("content-type", PROTOBUF)
            .body(batch.encode_to_vec())
            .send()
            .await
            .unwrap();
        if response.status() == 503 {
            assert_eq!(response.headers()["retry-after"], "2");
            assert!(stats.dropped() > 0);
            assert!(accepted < 100, "{accepted} calls held before the first 503");
            return;
        }
        assert_eq!(response.status(), 200);
        accepted += 1;
    }
    panic!("{accepted} calls accepted and never a 503: the cockpit's channel is not bounded");
}

#[tokio::test]
async fn changes_are_taken_whole_or_refused_naming_the_record_and_field() {
    let mut receiver = start(config(), 16).await;
    let deploy = json!({"ts": "2026-03-14T13:35:00Z", "kind": "prompt_deploy", "target": "support-answer", "from": "v7", "to": "v8"});
    let rollout = json!({"ts": "2026-03-14T13:40:00Z", "kind": "model_change", "target": "gpt-4o", "to": "gpt-4o-2024-11-20"});
    let response = receiver
        .post(
            "/v1/changes",
            &[("content-type", JSON)],
            json!([deploy, rollout]).to_string().into_bytes(),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"accepted": 2})
    );
    let changes: Vec<Change> = match receiver.next().await {
        Received::Changes(changes) => changes,
        other => panic!("expected changes, got {other:?}"),
    };
    assert_eq!(changes[1].kind, ChangeKind::ModelChange);

    let lines = format!(
        "{deploy}\n{}\n",
        json!({"ts": "2026-03-14T13:35:00Z", "target": "x"})
    );
    let bad = receiver
        .post(
            "/v1/changes",
            &[("content-type", "application/x-ndjson")],
            lines.into_bytes(),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let message = rpc_status(bad).await.message;
    assert!(
        message.contains("line 2") && message.contains("`kind`"),
        "{message}"
    );
    let form = receiver
        .post(
            "/v1/changes",
            &[("content-type", "application/x-www-form-urlencoded")],
            deploy.to_string().into_bytes(),
        )
        .await;
    assert_eq!(form.status(), 415);
    assert_eq!(receiver.stats.changes(), 2);
    assert!(receiver.stop().await.is_empty());
}

#[tokio::test]
async fn record_wants_the_bearer_token_and_writes_what_it_received_on_sigterm() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut recording = Recording::start(
        "[sources.otlp]\nbearer_token_env = \"OTLP_TEST_TOKEN\"\njoin_window_ms = 100\n",
        &[("OTLP_TEST_TOKEN", "s3cret")],
    );
    let url = recording.url.clone();
    let client = reqwest::Client::new();
    let body = traces(vec![span(1, 5, chat("gpt-4o"), vec![])]).encode_to_vec();
    let send = |token: Option<&str>| {
        let mut request = client
            .post(format!("{url}/v1/traces"))
            .header("content-type", PROTOBUF)
            .body(body.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let missing = send(None).await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let wrong = send(Some("guess")).await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!rpc_status(wrong).await.message.contains("guess"));
    assert_eq!(send(Some("s3cret")).await.unwrap().status(), 200);
    let change = json!({"ts": "2026-03-14T13:35:00Z", "kind": "deploy", "target": "api"});
    let posted = client
        .post(format!("{url}/v1/changes"))
        .header("content-type", JSON)
        .bearer_auth("s3cret")
        .body(change.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);

    let summary = recording.stop();
    assert!(
        summary.contains("received 1 calls and 1 changes, rejected 0, dropped 0, not LLM calls 0"),
        "{summary}"
    );
    let calls = recording.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].model_requested, "gpt-4o");
    let changes = std::fs::read_to_string(recording.path("changes.jsonl")).unwrap();
    assert_eq!(changes.lines().count(), 1);
}

#[test]
fn record_without_its_token_variable_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(
        &config,
        "[sources.otlp]\nbearer_token_env = \"OTLP_TEST_UNSET_TOKEN\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "record",
            "--otlp",
            "127.0.0.1:0",
        ])
        .args(["--out", dir.path().join("calls.jsonl").to_str().unwrap()])
        .env("FLIGHTDECK_DATA_DIR", dir.path().join("data"))
        .env_remove("OTLP_TEST_UNSET_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("OTLP_TEST_UNSET_TOKEN"), "{stderr}");
}
