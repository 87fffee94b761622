//! The append-only journal: one JSON record per line, each with a sequence number and a
//! CRC-32 of its own bytes, appended and `sync_data`'d before anything is acknowledged.
//!
//! On open, a torn last line (a crash mid-write, or a NUL-filled tail after a power loss)
//! is cut off before anything new is appended; damage anywhere before the last line is
//! refused with its byte offset, because skipping it would silently forget confirmed
//! actions.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::event::{Event, Record};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {action} journal {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "journal {} is damaged at byte offset {offset} (line {line}): {reason}; \
         refusing to go on, because the records after it could not be trusted",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        line: usize,
        reason: String,
    },
    #[error("cannot encode a journal record: {0}")]
    Encode(#[from] serde_json::Error),
}

/// What opening found besides the records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Bytes of a torn last line that were cut off (0 when the file was clean).
    pub truncated_bytes: u64,
}

pub struct Journal {
    file: File,
    path: PathBuf,
    next_seq: u64,
}

/// `,"crc":"xxxxxxxx"}` closes every line; the CRC covers the line with `}` in its place.
const CRC_SUFFIX_LEN: usize = r#","crc":"00000000"}"#.len();

pub fn encode(record: &Record) -> Result<String, serde_json::Error> {
    let body = serde_json::to_string(record)?;
    let crc = crc32fast::hash(body.as_bytes());
    // serde_json writes an object, so `body` ends with `}`.
    let open = &body[..body.len() - 1];
    Ok(format!("{open},\"crc\":\"{crc:08x}\"}}\n"))
}

/// Decodes one line (without its newline), checking the CRC and the JSON.
pub fn decode(line: &[u8]) -> Result<Record, String> {
    if line.len() < CRC_SUFFIX_LEN + 2 || !line.ends_with(b"\"}") {
        return Err("no checksum".into());
    }
    // Split as bytes: a torn line can have a multi-byte character right where the
    // suffix would start, and that must read as damage, not panic.
    let (open, suffix) = line.split_at(line.len() - CRC_SUFFIX_LEN);
    let open = std::str::from_utf8(open).map_err(|_| "not UTF-8".to_string())?;
    let suffix = std::str::from_utf8(suffix).map_err(|_| "no checksum".to_string())?;
    let want = suffix
        .strip_prefix(",\"crc\":\"")
        .and_then(|s| s.strip_suffix("\"}"))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| "no checksum".to_string())?;
    let body = format!("{open}}}");
    let got = crc32fast::hash(body.as_bytes());
    if got != want {
        return Err(format!(
            "checksum mismatch (stored {want:08x}, computed {got:08x})"
        ));
    }
    serde_json::from_str(&body).map_err(|e| format!("unreadable record: {e}"))
}

struct Scan {
    records: Vec<Record>,
    /// Byte length of the intact prefix.
    good_len: u64,
    /// Total file length.
    file_len: u64,
}

fn scan(path: &Path, bytes: &[u8]) -> Result<Scan, JournalError> {
    let mut records: Vec<Record> = Vec::new();
    let mut offset = 0usize;
    let mut line_no = 0usize;
    while offset < bytes.len() {
        line_no += 1;
        let rest = &bytes[offset..];
        let (line, has_newline) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        let next = offset + line.len() + usize::from(has_newline);
        let is_last = next >= bytes.len();
        let decoded = decode(line).and_then(|r| {
            let want = records.last().map_or(1, |p| p.seq + 1);
            if r.seq == want {
                Ok(r)
            } else {
                Err(format!(
                    "sequence number {} where {want} was expected",
                    r.seq
                ))
            }
        });
        match decoded {
            Ok(record) if has_newline => records.push(record),
            // A record without its newline was cut mid-write: the tail is torn.
            Ok(_) => break,
            Err(_) if is_last => break,
            Err(reason) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    offset: offset as u64,
                    line: line_no,
                    reason,
                });
            }
        }
        offset = next;
    }
    Ok(Scan {
        records,
        good_len: offset as u64,
        file_len: bytes.len() as u64,
    })
}

fn read_all(path: &Path) -> Result<Vec<u8>, JournalError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| JournalError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

/// Reads a journal without changing it (for `status` and `sessions`): a torn tail is
/// ignored, damage before it is an error.
pub fn read(path: &Path) -> Result<(Vec<Record>, OpenReport), JournalError> {
    let bytes = read_all(path)?;
    let scan = scan(path, &bytes)?;
    Ok((
        scan.records,
        OpenReport {
            truncated_bytes: scan.file_len - scan.good_len,
        },
    ))
}

impl Journal {
    /// Creates a new, empty journal (0600). Fails if one exists: sessions never share one.
    pub fn create(path: &Path) -> Result<Journal, JournalError> {
        let io = |action| {
            let path = path.to_path_buf();
            move |source| JournalError::Io {
                action,
                path,
                source,
            }
        };
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io("create"))?;
        file.sync_all().map_err(io("sync"))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir).map_err(io("sync the folder of"))?;
        }
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            next_seq: 1,
        })
    }

    /// Opens an existing journal for appending: cuts a torn tail (and makes the cut
    /// durable) before returning, so the next record lands right after the last good one.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>, OpenReport), JournalError> {
        let io = |action| {
            let path = path.to_path_buf();
            move |source| JournalError::Io {
                action,
                path,
                source,
            }
        };
        let bytes = read_all(path)?;
        let scan = scan(path, &bytes)?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io("open"))?;
        if scan.good_len < scan.file_len {
            file.set_len(scan.good_len).map_err(io("truncate"))?;
            file.sync_all().map_err(io("sync"))?;
        }
        let next_seq = scan.records.last().map_or(1, |r| r.seq + 1);
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
                next_seq,
            },
            scan.records,
            OpenReport {
                truncated_bytes: scan.file_len - scan.good_len,
            },
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends one event and returns only once it is on disk.
    pub fn append(
        &mut self,
        by: &str,
        at: Timestamp,
        event: Event,
    ) -> Result<Record, JournalError> {
        let record = Record {
            seq: self.next_seq,
            at,
            by: by.to_string(),
            event,
        };
        let line = encode(&record)?;
        let io = |action| {
            let path = self.path.clone();
            move |source| JournalError::Io {
                action,
                path,
                source,
            }
        };
        // One write of the whole line: a crash leaves either nothing or a torn tail
        // that the next open cuts off.
        let before = self.file.metadata().map_err(io("measure"))?.len();
        let written = self
            .file
            .write_all(line.as_bytes())
            .map_err(io("append to"))
            .and_then(|()| self.file.sync_data().map_err(io("sync")));
        if let Err(e) = written {
            // The record was not acknowledged, so it must not replay as if it had been:
            // take it back off (best effort; if even that fails, a torn or whole line
            // may remain, and the caller stops writing altogether).
            let _ = self.file.set_len(before);
            let _ = self.file.sync_data();
            return Err(e);
        }
        self.next_seq += 1;
        Ok(record)
    }
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(step: &str) -> Event {
        Event::StepDone { step: step.into() }
    }

    fn t0() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    #[test]
    fn append_then_open_returns_the_same_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).unwrap();
        let a = j.append("op@host", t0(), ev("a")).unwrap();
        let b = j.append("op@host", t0(), ev("b")).unwrap();
        drop(j);
        let (j, records, report) = Journal::open(&path).unwrap();
        assert_eq!(records, vec![a, b]);
        assert_eq!(report.truncated_bytes, 0);
        assert_eq!(j.next_seq(), 3);
    }

    #[test]
    fn line_carries_seq_and_crc() {
        let rec = Record {
            seq: 7,
            at: t0(),
            by: "a@b".into(),
            event: ev("x"),
        };
        let line = encode(&rec).unwrap();
        assert!(line.starts_with(r#"{"seq":7,"#), "{line}");
        assert!(line.ends_with("\"}\n"));
        assert_eq!(decode(line.trim_end().as_bytes()).unwrap(), rec);
        let tampered = line.replace("\"x\"", "\"y\"");
        assert!(
            decode(tampered.trim_end().as_bytes())
                .unwrap_err()
                .contains("checksum")
        );
    }

    #[test]
    fn torn_tail_is_cut_and_appending_continues_after_the_last_good_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append("o", t0(), ev("a")).unwrap();
        j.append("o", t0(), ev("b")).unwrap();
        drop(j);
        let good = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":3,"at":"2027-01-15T08:00:00Z","by":"o","ev"#)
            .unwrap();
        drop(f);

        let (mut j, records, report) = Journal::open(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert!(report.truncated_bytes > 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        // The write-after-recovery check: the new record must be readable next time.
        j.append("o", t0(), ev("c")).unwrap();
        drop(j);
        let (_, records, report) = Journal::open(&path).unwrap();
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(report.truncated_bytes, 0);
    }

    #[test]
    fn nul_filled_tail_is_treated_as_torn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append("o", t0(), ev("a")).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0u8; 300]).unwrap();
        drop(f);
        let (_, records, report) = Journal::open(&path).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(report.truncated_bytes, 300);
    }

    #[test]
    fn damage_before_the_last_line_is_refused_with_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).unwrap();
        for s in ["a", "b", "c"] {
            j.append("o", t0(), ev(s)).unwrap();
        }
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        bytes[second + 10] = b'X';
        std::fs::write(&path, &bytes).unwrap();
        let before = std::fs::read(&path).unwrap();
        match Journal::open(&path) {
            Err(JournalError::Corrupt { offset, line, .. }) => {
                assert_eq!(offset, second as u64);
                assert_eq!(line, 2);
            }
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a damaged journal was opened"),
        }
        // Nothing was cut or rewritten.
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(read(&path).is_err());
    }

    #[test]
    fn a_torn_line_split_inside_a_multibyte_character_is_damage_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append("o", t0(), ev("a")).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(r#"{"seq":2,"at":"2027-01-15T08:00:00Z","by":"o","event":{"type":"note_added","step":"a","text":"checked éééééééééa"}"#.as_bytes()).unwrap();
        drop(f);
        for len in 0..40 {
            assert!(decode(&"é".repeat(len).into_bytes()).is_err());
            let mut b = "é".repeat(len).into_bytes();
            b.extend_from_slice(b"\"}");
            assert!(decode(&b).is_err());
        }
        let (_, records, report) = Journal::open(&path).unwrap();
        assert_eq!(records.len(), 1);
        assert!(report.truncated_bytes > 0);
    }

    #[test]
    fn a_gap_in_sequence_numbers_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let r = |seq| {
            encode(&Record {
                seq,
                at: t0(),
                by: "o".into(),
                event: ev("a"),
            })
            .unwrap()
        };
        std::fs::write(&path, format!("{}{}{}", r(1), r(3), r(4))).unwrap();
        let err = Journal::open(&path).err().expect("must refuse");
        assert!(err.to_string().contains("sequence number 3"), "{err}");
    }
}
