//! A call reduced to what the metrics and the triage need, with its dimensions interned.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::signals::{refusal, schema::SchemaRegistry};
use crate::model::{Call, CallStatus, Feedback};

/// An interned string: a dimension value or an input term.
pub type Symbol = u32;

/// Interns strings so that each observation stays small and comparisons are cheap.
#[derive(Debug, Default)]
pub struct Interner {
    ids: HashMap<String, Symbol>,
    names: Vec<String>,
}

impl Interner {
    pub fn intern(&mut self, name: &str) -> Symbol {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as Symbol;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub fn lookup(&self, name: &str) -> Option<Symbol> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: Symbol) -> &str {
        &self.names[id as usize]
    }
}

/// The dimensions a call can be segmented by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    PromptVersion,
    ModelServed,
    Source,
    Intent,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Self::PromptVersion,
        Self::ModelServed,
        Self::Source,
        Self::Intent,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::PromptVersion => "prompt",
            Self::ModelServed => "model",
            Self::Source => "source",
            Self::Intent => "intent",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Observation {
    pub ts: DateTime<Utc>,
    pub status: CallStatus,
    pub latency_ms: f64,
    pub hallucinated: Option<bool>,
    pub refused: Option<bool>,
    pub schema_compliant: Option<bool>,
    pub feedback_down: Option<bool>,
    /// Interned values of [`Dimension::ALL`], in that order.
    pub dimensions: [Option<Symbol>; 4],
    /// Distinct content terms of the input.
    pub terms: Vec<Symbol>,
}

impl Observation {
    pub fn from_call(call: &Call, schemas: &SchemaRegistry, interner: &mut Interner) -> Self {
        let ok = call.status == CallStatus::Ok;
        let output = call.output.as_deref().filter(|_| ok);
        let mut intern = |value: Option<&str>| value.map(|v| interner.intern(v));
        let dimensions = [
            intern(call.prompt_version.as_deref()),
            intern(Some(call.model())),
            intern(call.attribute("source")),
            intern(call.attribute("intent")),
        ];
        let mut terms: Vec<Symbol> = call
            .input
            .as_deref()
            .map(content_terms)
            .unwrap_or_default()
            .into_iter()
            .map(|term| interner.intern(&term))
            .collect();
        terms.sort_unstable();
        terms.dedup();
        Self {
            ts: call.ts,
            status: call.status,
            latency_ms: call.latency_ms,
            hallucinated: call.eval_flag("hallucination").filter(|_| ok),
            refused: output.map(|text| {
                call.eval_flag("refusal")
                    .unwrap_or_else(|| refusal::is_refusal(text))
            }),
            schema_compliant: match (output, call.output_schema.as_deref()) {
                (Some(text), Some(name)) => schemas.check(name, text).map(|r| r.is_ok()),
                _ => None,
            },
            feedback_down: call.feedback.map(|f| f == Feedback::Down),
            dimensions,
            terms,
        }
    }

    pub fn dimension(&self, dimension: Dimension) -> Option<Symbol> {
        let index = Dimension::ALL
            .iter()
            .position(|d| *d == dimension)
            .expect("every dimension is listed in ALL");
        self.dimensions[index]
    }
}

const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "you", "your", "with", "that", "this", "have", "can", "are", "was",
    "what", "how", "but", "not", "from", "they", "will", "would", "there", "their", "about",
    "does", "did", "our", "any", "get", "just", "when", "which", "who", "why", "into", "than",
    "then", "them", "its", "also", "been", "were", "could", "should", "please", "hi", "hello",
    "thanks",
];

/// Lower-cased alphabetic words of three letters or more that are not stop words; contractions
/// ("isn't") are dropped with them, as they carry no topic.
pub fn content_terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '\u{2019}')
        .map(str::to_lowercase)
        .filter(|word| {
            word.len() >= 3
                && word.chars().all(char::is_alphabetic)
                && !STOP_WORDS.contains(&word.as_str())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_terms_drop_stop_words_numbers_and_short_words() {
        assert_eq!(
            content_terms("Where is my order #4411? It's late, and the tracking isn't moving!"),
            vec!["where", "order", "late", "tracking", "moving"]
        );
    }

    #[test]
    fn interner_returns_the_same_symbol_for_the_same_name() {
        let mut interner = Interner::default();
        let a = interner.intern("v7");
        let b = interner.intern("v8");
        assert_ne!(a, b);
        assert_eq!(interner.intern("v7"), a);
        assert_eq!(interner.name(b), "v8");
    }
}
