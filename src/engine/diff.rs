//! Word-level diff of two prompt texts: a six-word removal must be visible at a glance.

use similar::{ChangeTag, TextDiff};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffTag {
    Same,
    Removed,
    Added,
}

/// Runs of words (with their spacing) tagged as kept, removed or added.
pub fn word_diff(old: &str, new: &str) -> Vec<(DiffTag, String)> {
    let diff = TextDiff::from_words(old, new);
    let mut runs: Vec<(DiffTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        let tag = match change.tag() {
            ChangeTag::Equal => DiffTag::Same,
            ChangeTag::Delete => DiffTag::Removed,
            ChangeTag::Insert => DiffTag::Added,
        };
        match runs.last_mut() {
            Some((last, text)) if *last == tag => text.push_str(change.value()),
            _ => runs.push((tag, change.value().to_string())),
        }
    }
    runs
}

/// How many words were removed and added.
pub fn word_counts(runs: &[(DiffTag, String)]) -> (usize, usize) {
    let count = |tag| {
        runs.iter()
            .filter(|(t, _)| *t == tag)
            .map(|(_, text)| text.split_whitespace().count())
            .sum()
    };
    (count(DiffTag::Removed), count(DiffTag::Added))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_word_removal_shows_as_one_removed_run() {
        let old = "You are helpful. Answer only from the provided context. Reply as JSON.";
        let new = "You are helpful. Reply as JSON.";
        let runs = word_diff(old, new);
        let removed: Vec<&str> = runs
            .iter()
            .filter(|(t, _)| *t == DiffTag::Removed)
            .map(|(_, s)| s.as_str())
            .collect();
        assert_eq!(
            removed.concat().trim(),
            "Answer only from the provided context."
        );
        assert_eq!(word_counts(&runs), (6, 0));
    }

    #[test]
    fn identical_texts_have_no_changes() {
        assert_eq!(word_counts(&word_diff("a b c", "a b c")), (0, 0));
    }
}
