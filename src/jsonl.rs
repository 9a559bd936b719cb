//! JSON Lines: one record per line, blank lines skipped; a line that does not parse is handed
//! on with its number as an error, so no caller stops or loses count at a bad line.

use std::io::BufRead;

use serde::de::DeserializeOwned;

/// Calls `each` with the 1-based line number and the parsed record, or why it did not parse.
pub fn for_each_line<T: DeserializeOwned>(
    mut reader: impl BufRead,
    mut each: impl FnMut(u64, Result<T, serde_json::Error>),
) -> std::io::Result<()> {
    // Bytes, not a String: serde_json checks the UTF-8 of what it reads, so it is checked once.
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        if !line.iter().all(u8::is_ascii_whitespace) {
            each(number, serde_json::from_slice(&line));
        }
    }
}
