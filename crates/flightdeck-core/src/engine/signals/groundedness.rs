//! A groundedness proxy for calls that carry their retrieved `context`: the share of the
//! answer's content words that the context contains. An answer that mostly says what the context
//! does not is likely made up, whatever an evaluator samples.

use std::hash::BuildHasher;

use foldhash::HashMap;

use crate::engine::observation::{content_terms, lowercase};

/// Least distinct content words before an answer is judged: a short reply says too little.
const MIN_TERMS: usize = 4;
/// An answer is grounded when at least this share of its content words are in the context.
const GROUNDED_SHARE: f64 = 0.5;

/// A crude stem, so that "updates" in the answer meets "update" in the context.
fn stem(word: &str) -> &str {
    if word.len() > 4 {
        word.strip_suffix('s').unwrap_or(word)
    } else {
        word
    }
}

/// Passages remembered before the memory is cleared and starts over.
const MAX_PASSAGES: usize = 20_000;

/// The content words of each context passage seen, as sorted hashes. Retrieval returns the same
/// passages call after call, so each is read once; past [`MAX_PASSAGES`] the memory starts over.
#[derive(Debug, Default)]
pub struct PassageTerms {
    by_hash: HashMap<u64, Box<[u64]>>,
    hasher: foldhash::fast::FixedState,
}

impl PassageTerms {
    fn hash(&self, text: &str) -> u64 {
        self.hasher.hash_one(text)
    }

    /// The passage's term hashes, read from the passage the first time it is seen.
    fn terms(&mut self, passage: &str) -> &[u64] {
        let key = self.hash(passage);
        if !self.by_hash.contains_key(&key) && self.by_hash.len() >= MAX_PASSAGES {
            self.by_hash.clear();
        }
        let hasher = self.hasher.clone();
        self.by_hash.entry(key).or_insert_with(|| {
            let lower = lowercase(passage);
            let mut terms: Vec<u64> = content_terms(&lower)
                .map(|term| hasher.hash_one(stem(term)))
                .collect();
            terms.sort_unstable();
            terms.dedup();
            terms.into_boxed_slice()
        })
    }
}

/// The share of the answer's distinct content words found in the context; `None` when the
/// answer has too few to judge or there is no context.
pub fn support(answer: &str, context: &[String], passages: &mut PassageTerms) -> Option<f64> {
    if context.is_empty() {
        return None;
    }
    let answer = lowercase(answer);
    let mut terms: Vec<u64> = content_terms(&answer)
        .map(|term| passages.hash(stem(term)))
        .collect();
    terms.sort_unstable();
    terms.dedup();
    if terms.len() < MIN_TERMS {
        return None;
    }
    let mut supported = vec![false; terms.len()];
    for passage in context {
        for known in passages.terms(passage) {
            if let Ok(at) = terms.binary_search(known) {
                supported[at] = true;
            }
        }
    }
    let count = supported.iter().filter(|s| **s).count();
    Some(count as f64 / terms.len() as f64)
}

/// Whether most of the answer is in its context; `None` when it cannot be judged.
pub fn is_grounded(answer: &str, context: &[String], passages: &mut PassageTerms) -> Option<bool> {
    support(answer, context, passages).map(|share| share >= GROUNDED_SHARE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Vec<String> {
        vec![
            "[kb-201] Returns: unworn items can be returned within 30 days of delivery for a full refund. Sale items are final sale.".into(),
            "[kb-202] Return labels are free for domestic orders.".into(),
        ]
    }

    #[test]
    fn an_answer_drawn_from_the_context_is_grounded() {
        let answer = "You can return unworn items within 30 days of delivery for a full refund; labels are free for domestic orders.";
        assert_eq!(
            is_grounded(answer, &context(), &mut PassageTerms::default()),
            Some(true)
        );
    }

    #[test]
    fn an_answer_the_context_does_not_support_is_not() {
        let answer = "Returns are free worldwide and refunds arrive within one hour of drop-off at any courier.";
        let share = support(answer, &context(), &mut PassageTerms::default()).unwrap();
        assert!(share < 0.5, "{share}");
        assert_eq!(
            is_grounded(answer, &context(), &mut PassageTerms::default()),
            Some(false)
        );
    }

    #[test]
    fn a_remembered_passage_gives_the_same_answer_and_the_memory_stays_bounded() {
        let mut passages = PassageTerms::default();
        let answer = "You can return unworn items within 30 days of delivery for a full refund.";
        let first = support(answer, &context(), &mut passages);
        assert_eq!(support(answer, &context(), &mut passages), first);
        assert_eq!(passages.by_hash.len(), 2);
        for i in 0..MAX_PASSAGES + 5 {
            passages.terms(&format!("passage {i}"));
        }
        assert!(passages.by_hash.len() <= MAX_PASSAGES);
    }

    #[test]
    fn a_short_reply_or_a_call_without_context_is_not_judged() {
        assert_eq!(
            is_grounded("Yes, it is.", &context(), &mut PassageTerms::default()),
            None
        );
        assert_eq!(
            is_grounded(
                "You can return unworn items within 30 days.",
                &[],
                &mut PassageTerms::default()
            ),
            None
        );
    }
}
