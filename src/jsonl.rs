//! JSON Lines: one record per line, blank lines skipped; a line that does not parse is handed
//! on with its number as an error, so no caller stops or loses count at a bad line.

use std::io::BufRead;

use serde::de::DeserializeOwned;

/// Calls `each` with the 1-based line number and the parsed record, or why it did not parse.
pub fn for_each_line<T: DeserializeOwned>(
    reader: impl BufRead,
    mut each: impl FnMut(u64, Result<T, serde_json::Error>),
) -> std::io::Result<()> {
    for_each_raw_line(reader, |number, line| each(number, parse(line)))
}

/// Calls `each` with the 1-based line number and the bytes of each line that is not blank, for a
/// reader that needs the text to repair what an older version wrote.
pub fn for_each_raw_line(
    mut reader: impl BufRead,
    mut each: impl FnMut(u64, &[u8]),
) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        if !line.iter().all(u8::is_ascii_whitespace) {
            each(number, &line);
        }
    }
}

/// One record from one line's bytes.
pub fn parse<T: DeserializeOwned>(line: &[u8]) -> Result<T, serde_json::Error> {
    // Bytes checked as UTF-8 at once parse faster than string by string; a line that is not
    // UTF-8 still gets serde_json's own error.
    match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(line),
    }
}

/// A parse error without serde's "at line 1 column N": each line is parsed alone, so the line
/// that matters is the caller's; the column is kept.
pub fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => format!("{} (column {})", &text[..at], error.column()),
        None => text,
    }
}
