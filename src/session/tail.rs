//! Following a journal another process is writing, without locking or changing it
//! (`cutover watch`).
//!
//! Only whole lines are taken: the writer appends a record and its newline together, so
//! a line without its newline is still being written (or was torn by a crash and will be
//! cut by the next resume) and is read again on the next poll.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Record;
use super::journal::decode;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TailError {
    #[error("cannot read {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path} is damaged at byte {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(
        "{path} is shorter ({len} bytes) than what was already read ({offset}); it was replaced or cut"
    )]
    Shrank {
        path: PathBuf,
        len: u64,
        offset: u64,
    },
}

/// Where reading stopped: the byte after the last whole record taken, and the sequence
/// number the next one must carry.
pub struct JournalTail {
    path: PathBuf,
    offset: u64,
    next_seq: u64,
}

impl JournalTail {
    pub fn new(path: &Path) -> JournalTail {
        JournalTail {
            path: path.to_path_buf(),
            offset: 0,
            next_seq: 1,
        }
    }

    /// Bytes taken so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The whole records appended since the last call, in order. An error leaves the
    /// position where it was, so the records already returned stay the truth.
    pub fn poll(&mut self) -> Result<Vec<Record>, TailError> {
        let io = |e: std::io::Error| TailError::Io {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let mut file = File::open(&self.path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < self.offset {
            return Err(TailError::Shrank {
                path: self.path.clone(),
                len,
                offset: self.offset,
            });
        }
        if len == self.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let mut records = Vec::new();
        let mut at = 0usize;
        let mut next_seq = self.next_seq;
        while let Some(nl) = bytes[at..].iter().position(|&b| b == b'\n') {
            let line = &bytes[at..at + nl];
            let record = decode(line).and_then(|r| {
                if r.seq == next_seq {
                    Ok(r)
                } else {
                    Err(format!(
                        "sequence number {} where {next_seq} was expected",
                        r.seq
                    ))
                }
            });
            match record {
                Ok(r) => {
                    next_seq = r.seq + 1;
                    records.push(r);
                    at += nl + 1;
                }
                Err(reason) => {
                    return Err(TailError::Corrupt {
                        path: self.path.clone(),
                        offset: self.offset + at as u64,
                        reason,
                    });
                }
            }
        }
        self.offset += at as u64;
        self.next_seq = next_seq;
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use jiff::Timestamp;

    use super::*;
    use crate::session::Event;
    use crate::session::journal::encode;

    fn line(seq: u64) -> String {
        let record = Record {
            seq,
            at: Timestamp::from_second(1_800_000_000 + seq as i64).unwrap(),
            by: "op@host".into(),
            event: Event::SessionResumed { pid: 42 },
        };
        encode(&record).unwrap()
    }

    fn append(path: &Path, text: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text).unwrap();
    }

    #[test]
    fn takes_whole_lines_and_waits_for_a_line_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        append(&path, line(1).as_bytes());
        let mut tail = JournalTail::new(&path);
        assert_eq!(tail.poll().unwrap().len(), 1);
        assert!(tail.poll().unwrap().is_empty());
        // Half a record: not taken yet, and not an error.
        let two = line(2);
        let (a, b) = two.as_bytes().split_at(10);
        append(&path, a);
        assert!(tail.poll().unwrap().is_empty());
        assert_eq!(tail.offset(), line(1).len() as u64);
        append(&path, b);
        append(&path, line(3).as_bytes());
        let got: Vec<u64> = tail.poll().unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(got, vec![2, 3]);
    }

    #[test]
    fn a_torn_tail_cut_by_a_resume_is_followed_by_the_new_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        append(&path, line(1).as_bytes());
        append(&path, &line(2).as_bytes()[..15]);
        let mut tail = JournalTail::new(&path);
        assert_eq!(tail.poll().unwrap().len(), 1);
        // The resume cuts the torn bytes and appends its own record 2.
        let keep = line(1).len() as u64;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(keep)
            .unwrap();
        append(&path, line(2).as_bytes());
        let got: Vec<u64> = tail.poll().unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(got, vec![2]);
    }

    #[test]
    fn damage_and_gaps_are_errors_with_the_offset_and_nothing_moves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        append(&path, line(1).as_bytes());
        let mut tail = JournalTail::new(&path);
        tail.poll().unwrap();
        let mut bad = line(2);
        bad.replace_range(5..6, "X");
        append(&path, bad.as_bytes());
        match tail.poll() {
            Err(TailError::Corrupt { offset, .. }) => assert_eq!(offset, line(1).len() as u64),
            other => panic!("expected corruption, got {other:?}"),
        }
        assert_eq!(tail.offset(), line(1).len() as u64);

        let path = dir.path().join("gap.jsonl");
        append(&path, line(1).as_bytes());
        append(&path, line(3).as_bytes());
        let err = JournalTail::new(&path).poll().unwrap_err();
        assert!(
            err.to_string().contains("sequence number 3 where 2"),
            "{err}"
        );
    }

    #[test]
    fn a_journal_shorter_than_what_was_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        append(&path, line(1).as_bytes());
        let mut tail = JournalTail::new(&path);
        tail.poll().unwrap();
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(tail.poll(), Err(TailError::Shrank { .. })));
    }
}
