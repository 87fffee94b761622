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
use super::fault;

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
    #[error(
        "journal {} ends at record #{on_disk}, but #{acked} was shown as saved: \
         acknowledged records are missing from the disk",
        path.display()
    )]
    Behind {
        path: PathBuf,
        on_disk: u64,
        acked: u64,
    },
}

impl JournalError {
    /// The cause without the journal's path, for the status bar: the path is long and
    /// would push the errno, the part that says what to fix, off the screen.
    pub fn brief(&self) -> String {
        match self {
            JournalError::Io { action, source, .. } => {
                format!("cannot {action} the journal: {source}")
            }
            other => other.to_string(),
        }
    }
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
    /// `CUTOVER_FI_LOSE_LAST`: the acknowledged line not written yet (debug builds).
    held: Option<String>,
}

/// Bytes a probe writes: one block, the unit a full disk refuses, and more than any
/// ordinary record, so a probe that passes means the next record fits.
const PROBE_LEN: usize = 4096;

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
    /// Byte offset just past each record's newline.
    ends: Vec<u64>,
    /// Byte length of the intact prefix.
    good_len: u64,
    /// Total file length.
    file_len: u64,
}

fn scan(path: &Path, bytes: &[u8]) -> Result<Scan, JournalError> {
    let mut records: Vec<Record> = Vec::new();
    let mut ends = Vec::new();
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
            Ok(record) if has_newline => {
                records.push(record);
                ends.push(next as u64);
            }
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
        ends,
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

/// The error for a failed `action` on the journal at `path`, for `map_err`.
fn io_error(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io {
        action,
        path,
        source,
    }
}

impl Journal {
    /// Creates a new, empty journal (0600). Fails if one exists: sessions never share one.
    pub fn create(path: &Path) -> Result<Journal, JournalError> {
        let io = |action| io_error(path, action);
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
            held: None,
        })
    }

    /// Opens an existing journal for appending: cuts a torn tail (and makes the cut
    /// durable) before returning, so the next record lands right after the last good one.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>, OpenReport), JournalError> {
        let io = |action| io_error(path, action);
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
                held: None,
            },
            scan.records,
            OpenReport {
                truncated_bytes: scan.file_len - scan.good_len,
            },
        ))
    }

    /// Opens the journal again after a failed write, on a fresh descriptor (a failed
    /// fsync may have dropped dirty pages, and the old descriptor can report a later
    /// fsync as good without them), and checks it against what the screen showed:
    /// `acked` records must all be there. Whole records after them were never
    /// acknowledged (their write was reported as failed) and are cut off, like a torn
    /// tail: an action the operator saw refused must not come back on the next resume.
    /// Returns the journal, positioned after record `acked`, and how many records it cut.
    pub fn reopen(path: &Path, acked: u64) -> Result<(Journal, u64), JournalError> {
        let io = |action| io_error(path, action);
        let bytes = read_all(path)?;
        let scan = scan(path, &bytes)?;
        // `scan` checks that seqs run 1, 2, 3...: the count is the last seq.
        let on_disk = scan.records.len() as u64;
        if on_disk < acked {
            return Err(JournalError::Behind {
                path: path.to_path_buf(),
                on_disk,
                acked,
            });
        }
        let keep = match acked.checked_sub(1) {
            None => 0,
            Some(i) => usize::try_from(i)
                .ok()
                .and_then(|i| scan.ends.get(i))
                .copied()
                .unwrap_or(scan.good_len),
        };
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io("open"))?;
        if keep < scan.file_len {
            file.set_len(keep).map_err(io("truncate"))?;
            file.sync_all().map_err(io("sync"))?;
        }
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
                next_seq: acked + 1,
                held: None,
            },
            on_disk - acked,
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
        if fault::lose_last() {
            // The fault being modelled: acknowledged, but only in memory until the next
            // append pushes it out.
            let previous = self.held.replace(line);
            self.next_seq += 1;
            if let Some(previous) = previous {
                self.write_line(previous.as_bytes())?;
            }
            return Ok(record);
        }
        self.write_line(line.as_bytes())?;
        self.next_seq += 1;
        Ok(record)
    }

    /// Proves the journal can take a record again, without adding one: writes a block
    /// of NULs at its end, syncs it, and cuts it off again. If this process dies in
    /// between, the NULs are a torn tail that the next open cuts (a NUL tail never
    /// decodes, and a follower never sees a line in it: it has no newline).
    pub fn probe(&mut self) -> Result<(), JournalError> {
        let io = |action| io_error(&self.path, action);
        let before = self.file.metadata().map_err(io("measure"))?.len();
        let tried = write_checked(&mut self.file, &[0u8; PROBE_LEN])
            .map_err(io("append to"))
            .and_then(|()| {
                fault::journal_io()
                    .and_then(|()| self.file.sync_data())
                    .map_err(io("sync"))
            });
        let cut = self
            .file
            .set_len(before)
            .and_then(|()| self.file.sync_data())
            .map_err(io("truncate"));
        tried.and(cut)
    }

    /// Writes one whole line and syncs it; on failure takes it back off.
    fn write_line(&mut self, line: &[u8]) -> Result<(), JournalError> {
        let io = |action| io_error(&self.path, action);
        // One write of the whole line: a crash leaves either nothing or a torn tail
        // that the next open cuts off.
        let before = self.file.metadata().map_err(io("measure"))?.len();
        let written = write_checked(&mut self.file, line)
            .map_err(io("append to"))
            .and_then(|()| {
                fault::journal_io()
                    .and_then(|()| self.file.sync_data())
                    .map_err(io("sync"))
            });
        if let Err(e) = written {
            // The record was not acknowledged, so it must not replay as if it had been:
            // take it back off (best effort; if even that fails, a torn or whole line
            // may remain, and the caller must reopen before writing again, which cuts
            // it: see `reopen`).
            let _ = self.file.set_len(before);
            let _ = self.file.sync_data();
            return Err(e);
        }
        Ok(())
    }
}

/// `write_all`, unless fault injection says the disk is full: then, as a disk that fills
/// up mid-record does, half the bytes land and the write fails, leaving a torn line for
/// the rollback (or the next open) to deal with.
fn write_checked(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    if let Err(e) = fault::journal_io() {
        let _ = file.write_all(&bytes[..bytes.len() / 2]);
        return Err(e);
    }
    file.write_all(bytes)
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
    fn reopen_cuts_records_that_were_never_acknowledged_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append("o", t0(), ev("a")).unwrap();
        j.append("o", t0(), ev("b")).unwrap();
        let acked_len = std::fs::metadata(&path).unwrap().len();
        // Record 3 reached the file, but its fsync was reported as failed (so the screen
        // refused it) and the take-back failed too; then a torn piece of a 4th.
        j.append("o", t0(), ev("c")).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":4,"at":"#).unwrap();
        drop(f);

        let (mut j, cut) = Journal::reopen(&path, 2).unwrap();
        assert_eq!(cut, 1);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), acked_len);
        assert_eq!(j.next_seq(), 3);
        j.append("o", t0(), ev("d")).unwrap();
        drop(j);
        let (_, records, report) = Journal::open(&path).unwrap();
        assert_eq!(report.truncated_bytes, 0);
        let steps: Vec<_> = records
            .iter()
            .map(|r| match &r.event {
                Event::StepDone { step } => (r.seq, step.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            steps,
            vec![(1, "a".into()), (2, "b".into()), (3, "d".into())]
        );
    }

    #[test]
    fn reopen_refuses_when_acknowledged_records_are_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append("o", t0(), ev("a")).unwrap();
        drop(j);
        let before = std::fs::read(&path).unwrap();
        match Journal::reopen(&path, 2) {
            Err(JournalError::Behind { on_disk, acked, .. }) => {
                assert_eq!((on_disk, acked), (1, 2));
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a journal missing an acknowledged record was reopened"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let (_, cut) = Journal::reopen(&path, 1).unwrap();
        assert_eq!(cut, 0);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_probe_leaves_the_journal_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append("o", t0(), ev("a")).unwrap();
        let before = std::fs::read(&path).unwrap();
        j.probe().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
        j.append("o", t0(), ev("b")).unwrap();
        drop(j);
        let (_, records, report) = Journal::open(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(report.truncated_bytes, 0);
    }

    #[test]
    fn io_errors_are_brief_without_the_path() {
        let e = JournalError::Io {
            action: "sync",
            path: PathBuf::from("/very/long/state/dir/journal.jsonl"),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        };
        let brief = e.brief();
        assert!(brief.starts_with("cannot sync the journal: "), "{brief}");
        assert!(!brief.contains("/very/long"), "{brief}");
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
