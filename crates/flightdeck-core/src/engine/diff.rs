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

/// Words of unchanged text kept on each side of a change in [`compact`].
const CONTEXT_WORDS: usize = 6;

/// The diff on one line in `git diff --word-diff`'s notation, `[-removed-]` and `{+added+}`,
/// with unchanged stretches cut to a few words around each change.
pub fn compact(runs: &[(DiffTag, String)]) -> String {
    let mut out: Vec<String> = Vec::new();
    for (i, (tag, text)) in runs.iter().enumerate() {
        let words: Vec<&str> = text.split_whitespace().collect();
        match tag {
            DiffTag::Removed => out.push(format!("[-{}-]", words.join(" "))),
            DiffTag::Added => out.push(format!("{{+{}+}}", words.join(" "))),
            DiffTag::Same => {
                let (before, after) = (i > 0, i + 1 < runs.len());
                let keep = CONTEXT_WORDS * (usize::from(before) + usize::from(after));
                if words.len() <= keep {
                    out.push(words.join(" "));
                    continue;
                }
                if before {
                    out.push(words[..CONTEXT_WORDS].join(" "));
                }
                out.push("…".into());
                if after {
                    out.push(words[words.len() - CONTEXT_WORDS..].join(" "));
                }
            }
        }
    }
    out.retain(|part| !part.is_empty());
    out.join(" ")
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
    fn the_compact_diff_keeps_a_few_words_around_each_change() {
        let old = "one two three four five six seven eight nine ten. Answer only from the context. Reply as JSON.";
        let new = "one two three four five six seven eight nine ten. Reply as JSON.";
        assert_eq!(
            compact(&word_diff(old, new)),
            "… five six seven eight nine ten. [-Answer only from the context.-] Reply as JSON."
        );
        assert_eq!(compact(&word_diff("a b", "a c")), "a [-b-] {+c+}");
    }

    #[test]
    fn identical_texts_have_no_changes() {
        assert_eq!(word_counts(&word_diff("a b c", "a b c")), (0, 0));
    }
}
