//! Follows a file like `tail -F`: new lines as they are appended; the path reopened when the file
//! is replaced (rotation), the rest of the old file read first; back to the start when the file
//! shrinks (truncation); a missing file waited for.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::jsonl;

/// A complete line and its 1-based number within the current file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: u64,
    pub bytes: Vec<u8>,
    /// Set when the line ran past the follower's limit: its bytes were dropped as they came.
    pub overlong: Option<jsonl::Overlong>,
}

/// What happened to the file since the last poll, besides new lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Opened,
    Rotated,
    Truncated,
}

pub struct Follower {
    path: PathBuf,
    open: Option<OpenFile>,
    /// Start at the file's end the first time it is opened (new lines only).
    skip_existing: bool,
    /// The most bytes read in one poll, so a huge backlog arrives in batches.
    max_batch: usize,
    /// The longest line kept; a longer one is dropped as it comes and reported.
    line_limit: usize,
}

struct OpenFile {
    file: File,
    identity: (u64, u64),
    offset: u64,
    /// Bytes after the last newline: a line still being written.
    partial: Vec<u8>,
    /// Bytes of a line past the line limit seen so far, dropped rather than held.
    skipped: u64,
    lines: u64,
    /// The file's first bytes as read (up to [`HEAD`]): a rewrite in place changes them.
    head: Vec<u8>,
}

/// How much of a file's start is kept to notice it was rewritten.
const HEAD: u64 = 4096;

impl OpenFile {
    /// Keeps the first bytes read so far, up to [`HEAD`].
    fn remember_head(&mut self) -> io::Result<()> {
        let wanted = self.offset.min(HEAD) as usize;
        if self.head.len() < wanted {
            self.head = vec![0; wanted];
            self.file.read_exact_at(&mut self.head, 0)?;
        }
        Ok(())
    }

    /// Whether the file still starts with the bytes it started with.
    fn head_unchanged(&self) -> io::Result<bool> {
        if self.head.is_empty() {
            return Ok(true);
        }
        let mut now = vec![0; self.head.len()];
        match self.file.read_exact_at(&mut now, 0) {
            Ok(()) => Ok(now == self.head),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(error) => Err(error),
        }
    }
}

#[derive(Debug)]
pub struct Poll {
    pub lines: Vec<Line>,
    pub events: Vec<Event>,
    /// Whether more is waiting (the batch limit was reached).
    pub more: bool,
}

impl Follower {
    pub fn new(path: impl Into<PathBuf>, from_start: bool) -> Self {
        Self {
            path: path.into(),
            open: None,
            skip_existing: !from_start,
            max_batch: 4 << 20,
            line_limit: jsonl::DEFAULT_MAX_LINE,
        }
    }

    /// Lines longer than `bytes` are dropped as they come and reported as overlong.
    pub fn with_line_limit(mut self, bytes: usize) -> Self {
        self.line_limit = bytes;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what was appended since the last poll. A missing file is not an error: it is
    /// waited for, as `tail -F` does.
    pub fn poll(&mut self) -> io::Result<Poll> {
        let mut poll = Poll {
            lines: Vec::new(),
            events: Vec::new(),
            more: false,
        };
        let current = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(meta),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        if let (Some(open), Some(meta)) = (&self.open, &current)
            && open.identity != (meta.dev(), meta.ino())
        {
            // Rotated: finish the old file, then take the new one from its start.
            self.read_available(&mut poll)?;
            if poll.more {
                return Ok(poll);
            }
            self.open = None;
            poll.events.push(Event::Rotated);
        }
        if self.open.is_none() {
            if current.is_none() {
                // A file that appears later is new: all of it is read, as `tail -F` does.
                self.skip_existing = false;
                return Ok(poll);
            }
            match self.open_current() {
                Ok(()) => {
                    if !poll.events.contains(&Event::Rotated) {
                        poll.events.push(Event::Opened);
                    }
                }
                // The old file's last lines are handed on now; the error comes back next poll.
                Err(_) if !poll.lines.is_empty() => return Ok(poll),
                Err(error) => return Err(error),
            }
        }
        if let Some(open) = self.open.as_mut() {
            let len = open.file.metadata()?.len();
            // A rewrite to the same or a larger size keeps the length: its first bytes tell it.
            if len < open.offset || !open.head_unchanged()? {
                open.file.seek(SeekFrom::Start(0))?;
                open.offset = 0;
                open.partial.clear();
                open.skipped = 0;
                open.lines = 0;
                open.head.clear();
                poll.events.push(Event::Truncated);
            }
        }
        self.read_available(&mut poll)?;
        if let Some(open) = self.open.as_mut() {
            open.remember_head()?;
        }
        Ok(poll)
    }

    /// Opens the path; its identity is the opened file's, so a file replaced between a look at
    /// the path and the open is not taken for a rotation at the next poll.
    fn open_current(&mut self) -> io::Result<()> {
        let mut file = File::open(&self.path)?;
        let meta = file.metadata()?;
        // Skipped lines are still counted, so a bad line's number is its line in the file.
        let (offset, lines) = if self.skip_existing {
            count_lines(&mut file)?
        } else {
            (0, 0)
        };
        self.skip_existing = false;
        self.open = Some(OpenFile {
            file,
            identity: (meta.dev(), meta.ino()),
            offset,
            partial: Vec::new(),
            skipped: 0,
            lines,
            head: Vec::new(),
        });
        Ok(())
    }

    fn read_available(&mut self, poll: &mut Poll) -> io::Result<()> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let mut chunk = Vec::new();
        let read = (&mut open.file)
            .take(self.max_batch as u64)
            .read_to_end(&mut chunk)?;
        open.offset += read as u64;
        poll.more = read == self.max_batch;
        let mut rest = chunk.as_slice();
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let mut bytes = std::mem::take(&mut open.partial);
            bytes.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            open.lines += 1;
            let skipped = std::mem::take(&mut open.skipped);
            let overlong =
                (skipped > 0 || bytes.len() > self.line_limit).then(|| jsonl::Overlong {
                    bytes: skipped + bytes.len() as u64 + 1,
                    limit: self.line_limit,
                });
            if overlong.is_some() {
                bytes = Vec::new();
            }
            poll.lines.push(Line {
                number: open.lines,
                bytes,
                overlong,
            });
        }
        // A line still without its newline is held only up to the limit.
        if open.skipped > 0 || open.partial.len() + rest.len() > self.line_limit {
            open.skipped += (open.partial.len() + rest.len()) as u64;
            open.partial = Vec::new();
        } else {
            open.partial.extend_from_slice(rest);
        }
        Ok(())
    }
}

/// Reads a file to its last complete line: (offset after it, lines before it).
fn count_lines(file: &mut File) -> io::Result<(u64, u64)> {
    let mut buffer = vec![0; 1 << 16];
    let (mut read_total, mut lines, mut after_last_newline) = (0u64, 0u64, 0u64);
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        for (i, byte) in buffer[..read].iter().enumerate() {
            if *byte == b'\n' {
                lines += 1;
                after_last_newline = read_total + i as u64 + 1;
            }
        }
        read_total += read as u64;
    }
    // A half-written last line is read when it is finished.
    file.seek(SeekFrom::Start(after_last_newline))?;
    Ok((after_last_newline, lines))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn texts(poll: &Poll) -> Vec<(u64, String)> {
        poll.lines
            .iter()
            .map(|l| (l.number, String::from_utf8_lossy(&l.bytes).into_owned()))
            .collect()
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_line_past_the_limit_is_dropped_as_it_comes_and_reported_once_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let mut follower = Follower::new(&path, true);
        let huge = "x".repeat(jsonl::DEFAULT_MAX_LINE / 2 + 1);
        append(&path, &huge);
        append(&path, &huge);
        while follower.poll().unwrap().more {}
        let held = follower.open.as_ref().unwrap().partial.capacity();
        assert!(held <= jsonl::DEFAULT_MAX_LINE, "{held} bytes held");
        append(&path, "\nnext\n");
        let poll = follower.poll().unwrap();
        assert_eq!(
            poll.lines[0].overlong,
            Some(jsonl::Overlong {
                bytes: 2 * huge.len() as u64 + 1,
                limit: jsonl::DEFAULT_MAX_LINE,
            })
        );
        assert_eq!(texts(&poll)[1], (2, "next".to_string()));
    }

    #[test]
    fn the_line_limit_is_the_followers_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let mut follower = Follower::new(&path, true).with_line_limit(16);
        append(&path, "0123456789abcdefg\nshort\n");
        let poll = follower.poll().unwrap();
        assert_eq!(
            poll.lines[0].overlong.map(|o| o.to_string()).as_deref(),
            Some("a line of 18 bytes, over the 16-byte limit")
        );
        assert_eq!(texts(&poll)[1], (2, "short".to_string()));
    }

    #[test]
    fn reads_appended_lines_and_holds_a_partial_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        append(&path, "a\nb\n");
        let mut follower = Follower::new(&path, true);
        assert_eq!(
            texts(&follower.poll().unwrap()),
            [(1, "a".into()), (2, "b".into())]
        );
        append(&path, "c");
        assert!(follower.poll().unwrap().lines.is_empty());
        append(&path, "d\n");
        assert_eq!(texts(&follower.poll().unwrap()), [(3, "cd".into())]);
    }

    #[test]
    fn a_rewrite_in_place_to_a_larger_size_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        append(&path, "a1\nb1\n");
        let mut follower = Follower::new(&path, true);
        assert_eq!(texts(&follower.poll().unwrap()).len(), 2);
        // Truncated and written again between two polls: same file, larger than before.
        std::fs::write(&path, "x1\ny1\nz1\n").unwrap();
        let poll = follower.poll().unwrap();
        assert_eq!(poll.events, [Event::Truncated]);
        assert_eq!(
            texts(&poll),
            [(1, "x1".into()), (2, "y1".into()), (3, "z1".into())]
        );
        append(&path, "w1\n");
        assert_eq!(texts(&follower.poll().unwrap()), [(4, "w1".into())]);
    }

    #[test]
    fn starts_at_the_end_unless_asked_for_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        append(&path, "old\n");
        let mut follower = Follower::new(&path, false);
        assert!(follower.poll().unwrap().lines.is_empty());
        append(&path, "new\n");
        assert_eq!(texts(&follower.poll().unwrap()), [(2, "new".into())]);
    }

    #[test]
    fn waits_for_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.jsonl");
        let mut follower = Follower::new(&path, false);
        assert!(follower.poll().unwrap().lines.is_empty());
        append(&path, "first\n");
        let poll = follower.poll().unwrap();
        assert_eq!(poll.events, [Event::Opened]);
        assert_eq!(texts(&poll), [(1, "first".into())]);
    }

    #[test]
    fn survives_rotation_reading_the_old_file_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        append(&path, "1\n");
        let mut follower = Follower::new(&path, true);
        follower.poll().unwrap();
        append(&path, "2\n");
        std::fs::rename(&path, dir.path().join("calls.jsonl.1")).unwrap();
        append(&path, "3\n");
        let poll = follower.poll().unwrap();
        assert_eq!(poll.events, [Event::Rotated]);
        assert_eq!(texts(&poll), [(2, "2".into()), (1, "3".into())]);
    }

    #[test]
    fn starts_over_after_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        append(&path, "long line one\nlong line two\n");
        let mut follower = Follower::new(&path, true);
        follower.poll().unwrap();
        std::fs::write(&path, "x\n").unwrap();
        let poll = follower.poll().unwrap();
        assert_eq!(poll.events, [Event::Truncated]);
        assert_eq!(texts(&poll), [(1, "x".into())]);
    }

    #[test]
    fn delivers_a_large_backlog_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        append(&path, &"0123456789\n".repeat(100));
        let mut follower = Follower::new(&path, true);
        follower.max_batch = 64;
        let mut lines = 0;
        let mut polls = 0;
        loop {
            let poll = follower.poll().unwrap();
            lines += poll.lines.len();
            polls += 1;
            if !poll.more {
                break;
            }
        }
        assert_eq!(lines, 100);
        assert!(polls > 10);
    }
}
