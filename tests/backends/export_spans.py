"""Exports the spans described on stdin with the OpenTelemetry SDK's OTLP/HTTP protobuf exporter,
as a real instrumented app would. Used by tests/backend_*.rs.

stdin: {"endpoint": ".../v1/traces", "resource": {...}, "spans": [{"name", "start_ns", "end_ns",
"attributes": {...}, "status": "ok" | "error" | "unset", "message", "events": [{"name",
"attributes"}]}]}
"""

import json
import sys

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

STATUS = {"ok": StatusCode.OK, "error": StatusCode.ERROR, "unset": StatusCode.UNSET}

spec = json.load(sys.stdin)
provider = TracerProvider(resource=Resource.create(spec.get("resource", {})))
provider.add_span_processor(
    BatchSpanProcessor(OTLPSpanExporter(endpoint=spec["endpoint"]), max_export_batch_size=512)
)
tracer = provider.get_tracer("flightdeck-backend-test")
for item in spec["spans"]:
    span = tracer.start_span(item["name"], start_time=item["start_ns"])
    span.set_attributes(item.get("attributes", {}))
    for event in item.get("events", []):
        span.add_event(event["name"], event.get("attributes", {}), timestamp=item["start_ns"])
    status = STATUS[item.get("status", "unset")]
    if status is not StatusCode.UNSET:
        span.set_status(Status(status, item.get("message")))
    span.end(end_time=item["end_ns"])
provider.shutdown()
