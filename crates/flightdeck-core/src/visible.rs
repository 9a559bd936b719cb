//! Text from outside the process made harmless where it leaves for a terminal or a document: a
//! call's `prompt_version` or a note can carry ESC, BEL or a bidi override, which a terminal would
//! obey (a window title, a cleared screen, an OSC 8 link) instead of showing. Pure.

use std::borrow::Cow;

/// `text` with every control character but the line break and the tab, and every bidi override,
/// shown as a visible escape (`\x1b`, `\u{202e}`).
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !hidden(c) => out.push(c),
            c if u32::from(c) < 0x80 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    Cow::Owned(out)
}

fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_visible_and_plain_text_is_untouched() {
        assert_eq!(
            escaped("v8\u{1b}]0;pwned\u{7}\u{1b}[2J"),
            "v8\\x1b]0;pwned\\x07\\x1b[2J"
        );
        assert_eq!(escaped("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert!(matches!(escaped("two\nlines\tand → ✓"), Cow::Borrowed(_)));
    }
}
