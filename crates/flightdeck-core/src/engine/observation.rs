//! A call reduced to what the metrics and the triage need, with its dimensions interned.

use foldhash::HashMap;

use chrono::{DateTime, Utc};

use super::signals::groundedness::{self, PassageTerms};
use super::signals::{Checks, refusal};
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

/// The dimensions a call can be segmented by: its own fields and every string attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    PromptVersion,
    ModelServed,
    ModelRequested,
    Feature,
    Provider,
    /// An `attributes` key, interned.
    Attribute(Symbol),
}

impl Dimension {
    /// The dimensions that are fields of every call, in the order an observation stores them.
    pub const FIELDS: [Dimension; 5] = [
        Self::PromptVersion,
        Self::ModelServed,
        Self::ModelRequested,
        Self::Feature,
        Self::Provider,
    ];

    pub fn label(self, interner: &Interner) -> &str {
        match self {
            Self::PromptVersion => "prompt",
            Self::ModelServed => "model",
            Self::ModelRequested => "requested model",
            Self::Feature => "feature",
            Self::Provider => "provider",
            Self::Attribute(key) => interner.name(key),
        }
    }

    /// Whether a deploy or an alias move, rather than the traffic, decides this dimension.
    pub fn is_release(self) -> bool {
        matches!(self, Self::PromptVersion | Self::ModelServed)
    }
}

#[derive(Debug, Clone)]
pub struct Observation {
    pub ts: DateTime<Utc>,
    pub status: CallStatus,
    pub latency_ms: f64,
    pub hallucinated: Option<bool>,
    /// Whether most of the answer's content words are in the call's context (the proxy).
    pub grounded: Option<bool>,
    /// Whether the request should have been answered, as the call says.
    pub should_answer: Option<bool>,
    pub refused: Option<bool>,
    pub schema_compliant: Option<bool>,
    /// The output schema and the reason the output broke it, interned.
    pub violation: Option<(Symbol, Symbol)>,
    pub feedback_down: Option<bool>,
    /// Cosine similarity of the output to its feature's nearest baseline representative.
    pub similarity: Option<f32>,
    /// Whether the output is less like the baseline's than nine healthy outputs in ten.
    pub unlike: Option<bool>,
    /// Whether the input is less like the baseline's than nine healthy inputs in ten.
    pub novel_input: Option<bool>,
    /// Interned values of [`Dimension::FIELDS`], in that order.
    pub fields: [Option<Symbol>; 5],
    /// Interned string attributes, as (key, value), sorted by key.
    pub attributes: Vec<(Symbol, Symbol)>,
    /// How many calls this one stands for: above the engine's cap, one call in `weight` is kept.
    pub weight: u32,
}

impl Observation {
    /// What is cheap to read from any call: its transport, latency, dimensions, and the labels
    /// and feedback it carries. The content signals (refusal phrases, schema, groundedness) are
    /// left unread, as for a call outside the engine's sample.
    pub fn without_content(call: &Call, interner: &mut Interner) -> Self {
        let ok = call.status == CallStatus::Ok;
        let (fields, attributes) = Self::dimensions_of(call, interner);
        Self {
            ts: call.ts,
            status: call.status,
            latency_ms: call.latency_ms,
            hallucinated: call.eval_flag("hallucination").filter(|_| ok),
            grounded: None,
            should_answer: call.should_answer,
            refused: call.eval_flag("refusal").filter(|_| ok),
            schema_compliant: None,
            violation: None,
            feedback_down: call.feedback.map(|f| f == Feedback::Down),
            similarity: None,
            unlike: None,
            novel_input: None,
            fields,
            attributes,
            weight: 1,
        }
    }

    /// The interned values of [`Dimension::FIELDS`] and the string attributes, sorted by key.
    fn dimensions_of(
        call: &Call,
        interner: &mut Interner,
    ) -> ([Option<Symbol>; 5], Vec<(Symbol, Symbol)>) {
        let mut intern = |value: Option<&str>| value.map(|v| interner.intern(v));
        let fields = [
            intern(call.prompt_version.as_deref()),
            // A call that failed before a model answered has no served model, not the alias.
            intern(call.model_served.as_deref()),
            intern(Some(&call.model_requested)),
            intern(Some(&call.feature)),
            intern(call.provider.as_deref()),
        ];
        let mut attributes: Vec<(Symbol, Symbol)> = call
            .attributes
            .iter()
            .filter_map(|(key, value)| {
                value
                    .as_str()
                    .map(|v| (interner.intern(key), interner.intern(v)))
            })
            .collect();
        attributes.sort_unstable();
        (fields, attributes)
    }

    pub fn from_call(
        call: &Call,
        checks: &Checks,
        interner: &mut Interner,
        passages: &mut PassageTerms,
    ) -> Self {
        // The cheap part first, so the dimensions are interned before any violation reason.
        let observation = Self::without_content(call, interner);
        let output = call
            .output
            .as_deref()
            .filter(|_| call.status == CallStatus::Ok);
        // Parsed once for both the refusal check and the schema check.
        let parsed = output.map(serde_json::from_str::<serde_json::Value>);
        let schema = call.output_schema.as_deref().or_else(|| {
            checks
                .feature_schemas
                .get(&call.feature)
                .map(String::as_str)
        });
        let schema_check = match (output, schema, &parsed) {
            (Some(text), Some(name), Some(parsed)) => checks
                .schemas
                .check(name, text, parsed.as_ref())
                .map(|result| (name, result)),
            _ => None,
        };
        let refused = output.map(|text| {
            call.eval_flag("refusal").unwrap_or_else(|| {
                let parsed = parsed.as_ref().and_then(|p| p.as_ref().ok());
                checks.refusals.is_refusal(text, parsed)
            })
        });
        // A refusal makes no claim, so it is neither grounded nor not.
        let grounded = match (output, call.context.as_deref(), refused) {
            (Some(text), Some(context), Some(false)) => {
                let parsed = parsed.as_ref().and_then(|p| p.as_ref().ok());
                groundedness::is_grounded(refusal::response_text(text, parsed), context, passages)
            }
            _ => None,
        };
        Self {
            grounded,
            refused,
            schema_compliant: schema_check.as_ref().map(|(_, result)| result.is_ok()),
            violation: schema_check.and_then(|(name, result)| {
                let reason = result.err()?;
                Some((interner.intern(name), interner.intern(&reason)))
            }),
            ..observation
        }
    }

    pub fn dimension(&self, dimension: Dimension) -> Option<Symbol> {
        match dimension {
            Dimension::PromptVersion => self.fields[0],
            Dimension::ModelServed => self.fields[1],
            Dimension::ModelRequested => self.fields[2],
            Dimension::Feature => self.fields[3],
            Dimension::Provider => self.fields[4],
            Dimension::Attribute(key) => self
                .attributes
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v),
        }
    }

    /// Every dimension this call has a value for.
    pub fn dimensions(&self) -> impl Iterator<Item = (Dimension, Symbol)> + '_ {
        Dimension::FIELDS
            .iter()
            .zip(self.fields)
            .filter_map(|(d, v)| v.map(|v| (*d, v)))
            .chain(
                self.attributes
                    .iter()
                    .map(|(k, v)| (Dimension::Attribute(*k), *v)),
            )
    }
}

/// The distinct content terms of a call's input, interned, into `terms` (cleared first, and
/// reused from call to call so that counting them allocates nothing).
pub fn input_terms(call: &Call, interner: &mut Interner, terms: &mut Vec<Symbol>) {
    terms.clear();
    let Some(input) = call.input.as_deref() else {
        return;
    };
    let text = lowercase(input);
    terms.extend(content_terms(&text).map(|term| interner.intern(term)));
    terms.sort_unstable();
    terms.dedup();
}

/// Words too common to say what an input is about, each packed into an integer (see [`packed`])
/// and sorted, so that a word is looked up without comparing strings.
const STOP_WORDS: [u64; 47] = {
    let text = [
        "the", "and", "for", "you", "your", "with", "that", "this", "have", "can", "are", "was",
        "what", "how", "but", "not", "from", "they", "will", "would", "there", "their", "about",
        "does", "did", "our", "any", "get", "just", "when", "which", "who", "why", "into", "than",
        "then", "them", "its", "also", "been", "were", "could", "should", "please", "hi", "hello",
        "thanks",
    ];
    let mut words = [0u64; 47];
    let mut i = 0;
    while i < text.len() {
        words[i] = packed(text[i].as_bytes());
        i += 1;
    }
    // Insertion sort: the standard sorts are not const.
    let mut i = 1;
    while i < words.len() {
        let mut j = i;
        while j > 0 && words[j - 1] > words[j] {
            let swap = words[j - 1];
            words[j - 1] = words[j];
            words[j] = swap;
            j -= 1;
        }
        i += 1;
    }
    words
};

/// A word of at most eight bytes as an integer.
const fn packed(word: &[u8]) -> u64 {
    let mut value = 0u64;
    let mut i = 0;
    while i < word.len() {
        value = (value << 8) | word[i] as u64;
        i += 1;
    }
    value
}

fn is_stop_word(word: &str) -> bool {
    // No stop word is longer than six letters.
    word.len() <= 6 && STOP_WORDS.binary_search(&packed(word.as_bytes())).is_ok()
}

/// Lower-cased text; ASCII, the usual case, without decoding characters.
pub fn lowercase(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
    }
}

/// The alphabetic words of three letters or more in already lower-cased text, less the stop
/// words; contractions ("isn't") are dropped with them, as they carry no topic.
pub fn content_terms(lowercase: &str) -> ContentTerms<'_> {
    if lowercase.is_ascii() {
        ContentTerms::Ascii {
            text: lowercase,
            at: 0,
        }
    } else {
        ContentTerms::Unicode(lowercase.split(separates))
    }
}

/// Words are split at anything but letters, digits and apostrophes.
fn separates(c: char) -> bool {
    !c.is_alphanumeric() && c != '\'' && c != '\u{2019}'
}

/// For each byte: [`WORD`] when it belongs to a word (a letter, a digit or an apostrophe), and
/// [`LETTER`] too when it is a letter; a table, as this runs over every byte of every call.
const BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte.is_ascii_alphabetic() {
            table[b] = WORD | LETTER;
        } else if byte.is_ascii_digit() || byte == b'\'' {
            table[b] = WORD;
        }
        b += 1;
    }
    table
};
const WORD: u8 = 1;
const LETTER: u8 = 2;

fn is_content_term(word: &str) -> bool {
    word.len() >= 3 && word.chars().all(char::is_alphabetic) && !is_stop_word(word)
}

/// The words of [`content_terms`]. ASCII text, nearly every input and answer, is scanned byte
/// by byte in one pass, since this runs several times on every call.
pub enum ContentTerms<'a> {
    Ascii { text: &'a str, at: usize },
    Unicode(std::str::Split<'a, fn(char) -> bool>),
}

impl<'a> Iterator for ContentTerms<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            Self::Ascii { text, at } => {
                let text: &'a str = text;
                let bytes = text.as_bytes();
                // Kept in a local so the scan runs in registers, written back on return.
                let mut i = *at;
                let mut found = None;
                while i < bytes.len() && found.is_none() {
                    while i < bytes.len() && BYTE_CLASS[bytes[i] as usize] & WORD == 0 {
                        i += 1;
                    }
                    let start = i;
                    let mut classes = LETTER;
                    while i < bytes.len() && BYTE_CLASS[bytes[i] as usize] & WORD != 0 {
                        classes &= BYTE_CLASS[bytes[i] as usize];
                        i += 1;
                    }
                    let word = &text[start..i];
                    if word.len() >= 3 && classes & LETTER != 0 && !is_stop_word(word) {
                        found = Some(word);
                    }
                }
                *at = i;
                found
            }
            Self::Unicode(words) => words.find(|word| is_content_term(word)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_terms_drop_stop_words_numbers_and_short_words() {
        assert_eq!(
            content_terms(
                &"Where is my order #4411? It's late, and the tracking isn't moving!"
                    .to_lowercase()
            )
            .collect::<Vec<_>>(),
            vec!["where", "order", "late", "tracking", "moving"]
        );
    }

    proptest::proptest! {
        #[test]
        fn ascii_text_splits_as_unicode_text_does(text in "[a-z0-9 ',.!?#-]{0,80}") {
            let by_bytes: Vec<&str> = content_terms(&text).collect();
            let by_chars: Vec<&str> = ContentTerms::Unicode(text.split(separates as fn(char) -> bool)).collect();
            proptest::prop_assert_eq!(by_bytes, by_chars);
        }
    }

    #[test]
    fn every_stop_word_is_found_and_others_are_not() {
        for word in ["the", "your", "should", "thanks", "hello", "hi"] {
            assert!(is_stop_word(word), "{word}");
        }
        for word in ["order", "tracking", "then's", "th", "refunds", "waterproof"] {
            assert!(!is_stop_word(word), "{word}");
        }
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

    #[test]
    fn a_feature_s_schema_checks_calls_that_name_none() {
        let call: Call = serde_json::from_value(serde_json::json!({
            "ts": "2026-03-14T14:00:00Z", "feature": "support-answer",
            "model_requested": "gpt-4o", "status": "ok", "latency_ms": 900,
            "output": "{\"answer\": \"hi\"}"
        }))
        .unwrap();
        let mut checks = Checks {
            schemas: crate::sim::schema_registry(),
            ..Checks::default()
        };
        let observe = |checks: &Checks| {
            Observation::from_call(
                &call,
                checks,
                &mut Interner::default(),
                &mut PassageTerms::default(),
            )
        };
        assert_eq!(observe(&checks).schema_compliant, None);
        checks
            .feature_schemas
            .insert("support-answer".into(), "support_answer".into());
        assert_eq!(observe(&checks).schema_compliant, Some(false));
    }
}
