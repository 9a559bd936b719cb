"""An app's side of OTLP, written with the OpenTelemetry Python SDK and its OTLP/HTTP protobuf
exporters: chat spans with gen_ai.* attributes (current and older names), evaluation results as
span events and as a log record, and a span that is not a model call.

The exporters read where to send from the standard variables (OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_COMPRESSION). Prints, as one JSON object, the
calls it described, keyed by span id, so the test can compare what flightdeck understood.
"""

import json
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

MS = 1_000_000

resource = Resource.create({"service.name": "support-answer", "deployment.environment": "test"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = tracer_provider.get_tracer("otel_app")
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
logger = logger_provider.get_logger("otel_app.evaluations")

sent = {}


def chat(start, latency_ms, attributes, expected, error=None, evaluations=()):
    """One chat span from `start` (ns) lasting `latency_ms`, and what flightdeck should read."""
    span = tracer.start_span(
        f"chat {attributes['gen_ai.request.model']}",
        kind=SpanKind.CLIENT,
        start_time=start,
        attributes=attributes,
    )
    for name, score, label in evaluations:
        span.add_event(
            "gen_ai.evaluation.result",
            {
                "gen_ai.evaluation.name": name,
                "gen_ai.evaluation.score.value": score,
                "gen_ai.evaluation.score.label": label,
            },
        )
    if error:
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, f"{error} from the provider"))
    span.end(end_time=start + latency_ms * MS)
    span_id = format(span.get_span_context().span_id, "016x")
    expected.update(
        latency_ms=latency_ms,
        evals={name: {"label": label, "score": score} for name, score, label in evaluations},
    )
    sent[span_id] = expected
    return span


def messages(role, text):
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


now = time.time_ns() - 60_000 * MS
request = tracer.start_span("POST /answer", kind=SpanKind.SERVER, start_time=now)
with trace.use_span(request, end_on_exit=False):
    chat(
        now,
        812,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 412,
            "gen_ai.usage.output_tokens": 96,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.prompt.name": "support-answer",
            "gen_ai.prompt.version": "v8",
            "gen_ai.input.messages": messages("user", "Where is my order 41234?"),
            "gen_ai.output.messages": messages("assistant", "It ships today."),
            "intent": "order-status",
        },
        {
            "model_requested": "gpt-4o",
            "model_served": "gpt-4o-2024-08-06",
            "status": "ok",
            "tokens_in": 412,
            "tokens_out": 96,
            "prompt_version": "v8",
            "input": "Where is my order 41234?",
            "output": "It ships today.",
        },
        evaluations=[("hallucination", 0.1, "factual")],
    )
    chat(
        now + 1000 * MS,
        1500,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 200,
            "gen_ai.usage.completion_tokens": 20,
            "gen_ai.prompt.version": "v7",
        },
        {
            "model_requested": "gpt-4o-mini",
            "model_served": None,
            "status": "ok",
            "tokens_in": 200,
            "tokens_out": 20,
            "prompt_version": "v7",
        },
        evaluations=[("hallucination", 0.95, "hallucinated")],
    )
    chat(
        now + 2000 * MS,
        320,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "http.response.status_code": 500,
            "gen_ai.prompt.version": "v8",
        },
        {
            "model_requested": "gpt-4o",
            "model_served": None,
            "status": "error",
            "tokens_in": None,
            "tokens_out": None,
            "prompt_version": "v8",
        },
        error="openai.InternalServerError",
    )
    chat(
        now + 3000 * MS,
        30000,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.prompt.version": "v8",
        },
        {
            "model_requested": "gpt-4o",
            "model_served": None,
            "status": "timeout",
            "tokens_in": None,
            "tokens_out": None,
            "prompt_version": "v8",
        },
        error="timeout",
    )
    limited = chat(
        now + 4000 * MS,
        90,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.prompt.version": "v8",
        },
        {
            "model_requested": "gpt-4o",
            "model_served": None,
            "status": "rate_limited",
            "tokens_in": None,
            "tokens_out": None,
            "prompt_version": "v8",
        },
        error="429",
    )
    # An evaluator that runs later reports on its own, as a log record in the call's span.
    logger.emit(
        event_name="gen_ai.evaluation.result",
        context=trace.set_span_in_context(limited),
        attributes={
            "gen_ai.evaluation.name": "refusal",
            "gen_ai.evaluation.score.value": 0.0,
            "gen_ai.evaluation.score.label": "answered",
        },
    )
    sent[format(limited.get_span_context().span_id, "016x")]["evals"] = {
        "refusal": {"label": "answered", "score": 0.0}
    }
request.end(end_time=now + 35000 * MS)

tracer_provider.force_flush()
logger_provider.force_flush()
tracer_provider.shutdown()
logger_provider.shutdown()
print(json.dumps(sent))
