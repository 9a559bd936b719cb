//! What one OTLP export request gives the cockpit: the calls of its LLM spans (keyed by span, for
//! log records that arrive later), what its log records add to their span's call (evaluation
//! results, older GenAI input and output messages), and what could not be read, for the
//! response's partial success.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::evaluation::{Evaluation, evaluation_from_log};
use super::map::{Mapped, call_from_span};
use super::messages::{LogMessage, message_from_log};
use super::proto;
use crate::model::Call;

/// The span a call came from, which evaluation results name to attach to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpanKey {
    pub trace_id: String,
    pub span_id: String,
}

/// Records of a request that could not be read: how many, and what was wrong with the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejected {
    pub count: u64,
    pub first_reason: Option<String>,
}

impl Rejected {
    fn add(&mut self, reason: impl ToString) {
        self.count += 1;
        if self.first_reason.is_none() {
            self.first_reason = Some(reason.to_string());
        }
    }

    /// The first reason, and how many more there were.
    pub fn message(&self) -> Option<String> {
        let first = self.first_reason.as_ref()?;
        Some(match self.count {
            0 | 1 => first.clone(),
            count => format!("{first} (and {} more)", count - 1),
        })
    }
}

#[derive(Debug, Default)]
pub struct SpanBatch {
    pub calls: Vec<(SpanKey, Call)>,
    pub rejected: Rejected,
    /// Spans that are not LLM calls (agents, tools, HTTP handlers): counted, not kept.
    pub passed_over: u64,
}

/// What a log record adds to the call of its span.
#[derive(Debug, Clone, PartialEq)]
pub enum Addition {
    Evaluation(Evaluation),
    Message(LogMessage),
}

impl Addition {
    pub fn key(&self) -> SpanKey {
        let (trace_id, span_id) = match self {
            Self::Evaluation(evaluation) => (&evaluation.trace_id, &evaluation.span_id),
            Self::Message(message) => (&message.trace_id, &message.span_id),
        };
        SpanKey {
            trace_id: trace_id.clone(),
            span_id: span_id.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub struct LogBatch {
    pub additions: Vec<Addition>,
    pub rejected: Rejected,
    /// Records that add nothing to a call (application logs, other GenAI events, messages
    /// without text): counted, not kept.
    pub passed_over: u64,
}

pub fn span_batch(request: ExportTraceServiceRequest) -> SpanBatch {
    let mut batch = SpanBatch::default();
    for span in proto::spans(request) {
        let mapped = span.and_then(|span| {
            span.map(|span| {
                let key = SpanKey {
                    trace_id: span.trace_id.clone(),
                    span_id: span.span_id.clone(),
                };
                call_from_span(&span).map(|mapped| (key, mapped))
            })
            .transpose()
        });
        match mapped {
            Ok(Some((key, Mapped::Call(call)))) => batch.calls.push((key, *call)),
            Ok(Some((_, Mapped::NotAnLlmCall)) | None) => batch.passed_over += 1,
            Err(error) => batch.rejected.add(error),
        }
    }
    batch
}

pub fn log_batch(request: ExportLogsServiceRequest) -> LogBatch {
    let mut batch = LogBatch::default();
    for record in proto::log_records(request) {
        match evaluation_from_log(&record) {
            Ok(Some(evaluation)) => batch.additions.push(Addition::Evaluation(evaluation)),
            Ok(None) => match message_from_log(&record) {
                Ok(Some(message)) => batch.additions.push(Addition::Message(message)),
                Ok(None) => batch.passed_over += 1,
                Err(error) => batch.rejected.add(error),
            },
            Err(error) => batch.rejected.add(error),
        }
    }
    batch
}
