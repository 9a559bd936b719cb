//! JSON Lines: one record per line, blank lines skipped; a line that does not parse is handed
//! on with its number as an error, so no caller stops or loses count at a bad line. Appending
//! starts after the last whole line, so a record is never glued to a torn one.

use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::files;

/// What is appended to a file's name for the side file its torn last lines are kept in.
pub const TORN_SUFFIX: &str = ".torn";

/// The side file where the torn last lines of `path` are kept, one per line.
pub fn torn_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(TORN_SUFFIX);
    PathBuf::from(name)
}

/// Opens a JSON Lines file for appending, 0600, creating it (only creating it, with
/// `create_new`). A last line without its newline (a crash or a file-size limit mid-write) is
/// moved to the `.torn` side file and cut off, logged with its file and byte offset, so the next
/// record starts a line of its own.
pub fn open_append(path: &Path, create_new: bool) -> io::Result<File> {
    let mut options = files::private_options();
    options.read(true).append(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true);
    }
    let mut file = options.open(path)?;
    files::make_private(&file)?;
    let len = file.metadata()?.len();
    let end = last_line_end(&file, len)?;
    if end < len {
        let kept_in = torn_path(path);
        keep_aside(&mut file, end, len, &kept_in)?;
        // Only once the fragment is safe elsewhere: a crash in between leaves it twice, not lost.
        file.set_len(end)?;
        file.sync_data()?;
        tracing::warn!(
            file = %path.display(),
            offset = end,
            bytes = len - end,
            kept_in = %kept_in.display(),
            "a torn last line was cut off before appending"
        );
    }
    Ok(file)
}

/// The length of the file up to and including its last newline; 0 when it has none.
fn last_line_end(file: &File, len: u64) -> io::Result<u64> {
    let mut buffer = [0u8; 8192];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(buffer.len() as u64);
        let chunk = &mut buffer[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(newline) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Appends bytes `start..end` of `file` as one line of `kept_in`, on disk before returning.
fn keep_aside(file: &mut File, start: u64, end: u64, kept_in: &Path) -> io::Result<()> {
    let mut side = files::private_options()
        .create(true)
        .append(true)
        .open(kept_in)?;
    files::make_private(&side)?;
    file.seek(SeekFrom::Start(start))?;
    io::copy(&mut Read::by_ref(file).take(end - start), &mut side)?;
    side.write_all(b"\n")?;
    side.sync_data()?;
    // The side file's directory entry must be durable before the fragment leaves the original.
    match kept_in.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

/// The longest line kept unless `[sources] max_line_bytes` says otherwise: a longer one (a
/// runaway writer, `/dev/zero`) is skipped as it is read, never buffered whole.
pub const DEFAULT_MAX_LINE: usize = 8 << 20;

/// A line over its reader's limit, skipped: how long it was, and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlong {
    pub bytes: u64,
    pub limit: usize,
}

impl std::fmt::Display for Overlong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a line of {} bytes, over the ", self.bytes)?;
        if self.limit.is_multiple_of(1 << 20) {
            write!(f, "{} MiB limit", self.limit >> 20)
        } else {
            write!(f, "{}-byte limit", self.limit)
        }
    }
}

/// Reads one line, its newline included, into `line`; past `limit` bytes the rest of it is
/// consumed without being kept. `None` at the end of the input.
pub fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<Result<(), Overlong>>> {
    line.clear();
    let mut total = 0u64;
    let mut overlong = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((total > 0).then_some(if overlong {
                Err(Overlong {
                    bytes: total,
                    limit,
                })
            } else {
                Ok(())
            }));
        }
        let (taken, ended) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if !overlong && line.len() + taken > limit {
            overlong = true;
            line.clear();
            line.shrink_to(0);
        }
        if !overlong {
            line.extend_from_slice(&available[..taken]);
        }
        total += taken as u64;
        reader.consume(taken);
        if ended {
            return Ok(Some(if overlong {
                Err(Overlong {
                    bytes: total,
                    limit,
                })
            } else {
                Ok(())
            }));
        }
    }
}

/// Calls `each` with the 1-based line number and the parsed record, or why it did not parse.
pub fn for_each_line<T: DeserializeOwned>(
    reader: impl BufRead,
    limit: usize,
    mut each: impl FnMut(u64, Result<T, serde_json::Error>),
) -> std::io::Result<()> {
    for_each_raw_line(reader, limit, |number, line| {
        let parsed = line.map_err(|overlong| {
            <serde_json::Error as serde::de::Error>::custom(overlong.to_string())
        });
        each(number, parsed.and_then(parse))
    })
}

/// Calls `each` with the 1-based line number and the bytes of each line that is not blank (or
/// how long a line over `limit` was), for a reader that needs the text to repair what an
/// older version wrote.
pub fn for_each_raw_line(
    mut reader: impl BufRead,
    limit: usize,
    mut each: impl FnMut(u64, Result<&[u8], Overlong>),
) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut number = 0u64;
    while let Some(read) = read_line(&mut reader, &mut line, limit)? {
        number += 1;
        match read {
            Err(overlong) => each(number, Err(overlong)),
            Ok(()) if line.iter().all(u8::is_ascii_whitespace) => {}
            Ok(()) => each(number, Ok(&line)),
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_past_the_limit_is_consumed_unkept_and_the_next_read_whole() {
        let input = format!("{}\nshort\n{}", "x".repeat(100), "y".repeat(5));
        let mut reader = io::BufReader::with_capacity(16, input.as_bytes());
        let mut line = Vec::new();
        let over = read_line(&mut reader, &mut line, 32).unwrap();
        assert_eq!(
            over,
            Some(Err(Overlong {
                bytes: 101,
                limit: 32
            }))
        );
        assert!(line.capacity() <= 32, "{}", line.capacity());
        assert_eq!(read_line(&mut reader, &mut line, 32).unwrap(), Some(Ok(())));
        assert_eq!(line, b"short\n");
        assert_eq!(read_line(&mut reader, &mut line, 32).unwrap(), Some(Ok(())));
        assert_eq!(line, b"yyyyy");
        assert_eq!(read_line(&mut reader, &mut line, 32).unwrap(), None);
    }
}
