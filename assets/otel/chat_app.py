"""A stand-in for an app instrumented with OpenTelemetry: it "answers" support questions and
reports each LLM call as a chat span with the GenAI semantic conventions, plus an online
evaluator's verdict as a gen_ai.evaluation.result event. Point it at flightdeck the way you would
point your own app:

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
        python chat_app.py --rate 5 --degrade-after 1800

After --degrade-after seconds (30 minutes: the cockpit judges once it has a baseline, 10 minutes
of history ending 15 minutes ago) it ships prompt v8, whose answers hallucinate a quarter of the
time.
Needs: pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
"""

import argparse
import json
import random
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

QUESTIONS = {
    "order_status": "Where is my order {n}? It was due yesterday.",
    "returns": "How do I return the jacket from order {n}?",
    "sizing": "Does the {n} trail shoe run small?",
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=5.0, help="calls per second")
    parser.add_argument("--degrade-after", type=float, default=1800.0, help="seconds")
    args = parser.parse_args()

    provider = TracerProvider(resource=Resource.create({"service.name": "support-answer"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("chat_app")
    started = time.time()
    rng = random.Random(7)
    while True:
        degraded = time.time() - started > args.degrade_after
        version = "v8" if degraded else "v7"
        intent = rng.choice(list(QUESTIONS))
        question = QUESTIONS[intent].format(n=rng.randint(1000, 9999))
        hallucinated = rng.random() < (0.25 if degraded else 0.04)
        answer = json.dumps({"answer": "Your order left our warehouse on Monday.", "intent": intent})
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 420,
                "gen_ai.usage.output_tokens": 96,
                "gen_ai.prompt.name": "support-answer",
                "gen_ai.prompt.version": version,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": question}]}]),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]),
                "intent": intent,
            })
            span.add_event("gen_ai.evaluation.result", {
                "gen_ai.evaluation.name": "hallucination",
                "gen_ai.evaluation.score.value": 1.0 if hallucinated else 0.0,
                "gen_ai.evaluation.score.label": "hallucinated" if hallucinated else "factual",
            })
            time.sleep(rng.uniform(0.0, 0.01))
        time.sleep(rng.expovariate(args.rate))


if __name__ == "__main__":
    main()
