//! Faults, each through the real binary in a pseudo-terminal: a journal that cannot be
//! written mid-session (injected, and a real file-size limit), a state directory that
//! cannot be used at start, a damaged journal, a changed runbook copy, a second writer,
//! and every way the screen can be ended from outside (a panic, SIGTERM, SIGHUP, the
//! session leader dying, the terminal vanishing).
//!
//! The injected faults (`CUTOVER_FI_*`, see `src/session/fault.rs`) exist in debug
//! builds only, which is what `cargo test` runs.

mod common;

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ALT_ENTER, Home, Pty, TIMEOUT, assert_no_escapes, journal_lines, rfind};
use serde_json::Value;

const COLS: u16 = 120;
const ROWS: u16 = 40;
/// How long the process may take to be gone after the event that ends it.
const GONE_WITHIN: Duration = Duration::from_secs(2);

/// A runbook of `n` manual steps (`m1`..`mn`): `d` marks the selected one done and moves
/// on, one record per key.
fn manual_runbook(home: &Home, n: usize) -> PathBuf {
    let mut text = String::from(
        "[runbook]\ntitle = \"fault test\"\n\n[window]\nduration = \"1h\"\n\n\
         [[phase]]\nid = \"p\"\ntitle = \"Phase\"\n",
    );
    for i in 1..=n {
        text.push_str(&format!(
            "\n[[phase.step]]\nid = \"m{i}\"\ntitle = \"Manual step number {i}\"\nestimate = \"1m\"\n"
        ));
    }
    let path = home.path().join("manual.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Single-quoted for `sh` (the paths here are temp dirs, but a quote must not break it).
fn q(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// `(seq, type, step)` of every journal record.
fn records(home: &Home, id: &str) -> Vec<(u64, String, Option<String>)> {
    journal_lines(&home.journal(id))
        .iter()
        .map(|r| {
            (
                r["seq"].as_u64().unwrap(),
                r["event"]["type"].as_str().unwrap().to_string(),
                r["event"]["step"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Ids of the steps `status --json` reports as done.
fn done_steps(home: &Home, id: &str) -> Vec<String> {
    let status = home.status_json(id);
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "done")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// The largest `saved #N` on the screen (0 if none).
fn saved_on_screen(screen: &str) -> u64 {
    screen
        .match_indices("saved #")
        .filter_map(|(i, m)| {
            let digits: String = screen[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Every file of a session folder but its lock (which a refused `resume` rewrites: the
/// lock is taken before the journal is read, so no second writer can slip in between).
fn session_files(home: &Home, id: &str) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.file_name().is_some_and(|n| n != "lock") {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&home.state().join("sessions").join(id), &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------
// Watching a process end.

/// State and CPU time (utime + stime, in clock ticks) from `/proc/<pid>/stat`; `None`
/// once the process is reaped.
fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last `)`.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    let cpu = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((state, cpu))
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(n).unwrap_or(100).max(1)
}

/// How a process ended after an event at `from`.
#[derive(Debug)]
struct Ending {
    /// From the event until it was a zombie or gone.
    after: Duration,
    /// CPU it used from the event on (as far as the last sample saw).
    cpu: Duration,
}

/// Waits until `pid` is a zombie or gone, sampling its CPU time. Panics if it lives on
/// past [`GONE_WITHIN`] (saying whether it burns CPU meanwhile), or if it burned more
/// than half a core on the way out. Does not reap, so the caller can still read its
/// exit status.
fn wait_gone(pid: i32, from: Instant, what: &str) -> Ending {
    let ticks = clock_ticks();
    let to_time = |t: u64| Duration::from_millis(t * 1000 / ticks);
    let (_, cpu0) = proc_stat(pid).unwrap_or(('?', 0));
    let mut last = cpu0;
    loop {
        let now = Instant::now();
        match proc_stat(pid) {
            None | Some(('Z' | 'X', _)) => {
                let after = now - from;
                let cpu = to_time(last - cpu0);
                // Half a core at most, with slack for a short, busy exit (a debug
                // build printing a panic's backtrace takes a few hundred ms of CPU).
                assert!(
                    cpu <= Duration::from_millis(300) + after / 2,
                    "{what}: pid {pid} burned {cpu:?} of CPU in the {after:?} it took to end"
                );
                return Ending { after, cpu };
            }
            Some((_, cpu)) => last = cpu,
        }
        if now - from > GONE_WITHIN {
            // One more second of samples says whether it spins or sleeps.
            std::thread::sleep(Duration::from_secs(1));
            let burned = proc_stat(pid).map_or(0, |(_, c)| c.saturating_sub(last));
            panic!(
                "{what}: pid {pid} still runs {:?} after the event, using {:?} of CPU in the \
                 last second (a spin shows as ~1s)",
                now - from,
                to_time(burned)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------
// 1. A journal that cannot be written mid-session.

/// `CUTOVER_FI_FAIL_WHILE`: while the flag file exists every journal write fails with
/// ENOSPC (half of the record lands first, as on a disk filling up mid-write).
#[test]
fn a_full_disk_refuses_actions_and_recovers_without_a_restart() {
    let home = Home::new();
    let rb = manual_runbook(&home, 6);
    let flag = home.path().join("disk-full");
    let mut tui = home.pty_sh(
        COLS,
        ROWS,
        &format!(
            "CUTOVER_FI_FAIL_WHILE={} exec \"$0\" run {}",
            q(&flag),
            q(&rb)
        ),
    );
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    let id = home.only_session();
    let journal = home.journal(&id);
    let on_disk = std::fs::read(&journal).unwrap();

    // The disk fills: the action is refused, the banner says so, and the last number on
    // disk stays in sight.
    std::fs::write(&flag, "").unwrap();
    tui.send("d");
    tui.wait_for("STATE NOT SAVED", TIMEOUT);
    tui.wait_for("NOT SAVED after #2", TIMEOUT);
    let screen = tui.screen();
    assert!(
        screen.contains("No space left on device"),
        "the banner must say why:\n{screen}"
    );
    assert_eq!(
        saved_on_screen(&screen),
        0,
        "an ack while failing:\n{screen}"
    );
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        on_disk,
        "the refused record (or a torn piece of it) is in the journal"
    );
    // Pressed again while still full, and a few retries on the clock: still refused.
    tui.send("d");
    std::thread::sleep(Duration::from_millis(2500));
    tui.wait_for("STATE NOT SAVED", TIMEOUT);
    assert_eq!(std::fs::read(&journal).unwrap(), on_disk);
    assert_eq!(done_steps(&home, &id), ["m1"]);

    // Space again: the clock's retry reopens the journal and the banner goes, without a
    // key and without a restart. Nothing refused comes back by itself.
    std::fs::remove_file(&flag).unwrap();
    tui.wait_for("saving again", TIMEOUT);
    tui.wait_for_saved(2);
    assert!(
        !tui.screen().contains("STATE NOT SAVED"),
        "{}",
        tui.screen()
    );
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        on_disk,
        "a refused action was applied after the recovery without a new key press"
    );

    // The operator presses it again, and now it is saved.
    tui.send("d");
    tui.wait_for_saved(3);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
    tui.assert_restored();

    let got = records(&home, &id);
    let want: Vec<(u64, String, Option<String>)> = vec![
        (1, "session_started".into(), None),
        (2, "step_done".into(), Some("m1".into())),
        (3, "step_done".into(), Some("m2".into())),
    ];
    assert_eq!(
        got, want,
        "the journal must hold exactly what was acknowledged"
    );
    assert_eq!(done_steps(&home, &id), ["m1", "m2"]);
}

/// A real kernel error: `RLIMIT_FSIZE` (`ulimit -f`, with SIGXFSZ ignored) makes the
/// journal append fail with EFBIG part-way through a record once the file reaches it.
#[test]
fn a_file_size_limit_stops_acks_at_what_is_on_disk_and_resume_brings_all_back() {
    let home = Home::new();
    let rb = manual_runbook(&home, 14);
    let mut tui = home.pty(COLS, ROWS, &[std::ffi::OsStr::new("run"), rb.as_os_str()]);
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    let id = home.only_session();
    let size = std::fs::metadata(home.journal(&id)).unwrap().len();

    // dash counts `ulimit -f` in 512-byte blocks: room for a few more records (the
    // runbook copy, the largest file, is not written again by resume).
    let blocks = size / 512 + 2;
    let limit = blocks * 512;
    let mut tui = home.pty_sh(
        COLS,
        ROWS,
        &format!("trap '' XFSZ; ulimit -f {blocks} && exec \"$0\" resume {id}"),
    );
    tui.wait_for_saved(3);
    let mut shown = 3;
    let mut failed = false;
    for _ in 0..13 {
        tui.send("d");
        tui.wait_until("the next ack or the banner", TIMEOUT, |s| {
            s.contains("STATE NOT SAVED") || saved_on_screen(s) > shown
        });
        let screen = tui.screen();
        shown = shown.max(saved_on_screen(&screen));
        if screen.contains("STATE NOT SAVED") {
            failed = true;
            break;
        }
    }
    assert!(failed, "the journal never reached the {limit}-byte limit");
    assert!(shown > 3, "not even one record fitted under the limit");
    // The retries on the clock keep failing (a 4 KiB probe cannot fit either).
    std::thread::sleep(Duration::from_millis(2500));
    let screen = tui.screen();
    assert!(screen.contains("STATE NOT SAVED"), "{screen}");
    assert!(screen.contains("File too large"), "{screen}");
    assert_eq!(saved_on_screen(&screen), 0, "{screen}");
    // No ack beyond what is on disk, and no torn piece of the refused record.
    let on_disk = records(&home, &id);
    assert_eq!(on_disk.len() as u64, shown, "{on_disk:?}");
    assert!(std::fs::metadata(home.journal(&id)).unwrap().len() <= limit);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
    tui.assert_restored();

    // Without the limit, everything acknowledged is back.
    let mut again = home.pty(COLS, ROWS, &["resume", id.as_str()]);
    again.wait_for_saved(shown + 1);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    let marked = on_disk.iter().filter(|r| r.1 == "step_done").count();
    let want: Vec<String> = (1..=marked).map(|i| format!("m{i}")).collect();
    assert_eq!(done_steps(&home, &id), want);
}

// ---------------------------------------------------------------------------------------
// 2. A state directory that cannot be used at start.

/// Runs `script` (`$0` is the binary) in a terminal and checks the start-up refusal:
/// exit 73, the path named, and not one byte that touches the terminal.
fn refused_at_start(home: &Home, script: &str, path: &Path) {
    let mut tui = home.pty_sh(COLS, ROWS, script);
    let code = tui.wait_code();
    let text = tui.raw_text();
    assert_eq!(code, 73, "{script}: {text}");
    assert!(
        rfind(&tui.raw(), ALT_ENTER).is_none(),
        "{script}: entered the alternate screen: {text:?}"
    );
    assert_no_escapes(&text, script);
    assert!(
        text.contains(&path.display().to_string()),
        "{script}: the message must name {}: {text}",
        path.display()
    );
    assert!(tui.termios_cooked(), "{script}: the terminal was left raw");
}

#[test]
fn a_state_dir_under_a_regular_file_is_refused_before_the_terminal_is_touched() {
    let home = Home::new();
    let file = home.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let state = file.join("state");
    for cmd in ["demo", "resume"] {
        refused_at_start(
            &home,
            &format!("CUTOVER_HOME={} exec \"$0\" {cmd}", q(&state)),
            &state,
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}

/// Root ignores mode bits, so the read-only place is a read-only mount, made in a mount
/// namespace of the test's own (`unshare -rm`) so nothing outside sees it: a state dir
/// that cannot be created there, one that exists there, and one on a full filesystem.
#[test]
fn a_read_only_or_full_state_dir_is_refused_before_the_terminal_is_touched() {
    let usable = Command::new("unshare")
        .args(["-rm", "true"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        usable,
        "`unshare -rm` (util-linux, user and mount namespaces) is needed to mount a \
         read-only filesystem for this test"
    );
    let home = Home::new();
    let mnt = home.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let state = mnt.join("state");
    let setups = [
        // Nothing there yet: creating it fails.
        "mount -t tmpfs -o ro tmpfs \"$1\"",
        // A store that exists, on a filesystem remounted read-only since.
        "mount -t tmpfs tmpfs \"$1\" && mkdir -p \"$1/state/sessions\" && mount -o remount,ro \"$1\"",
        // A full filesystem: the write probe of the store fails with ENOSPC.
        "mount -t tmpfs -o size=16k tmpfs \"$1\" && mkdir -p \"$1/state/sessions\" && \
         { head -c 1048576 /dev/zero > \"$1/fill\" 2>/dev/null; true; }",
    ];
    for setup in setups {
        for cmd in ["demo", "resume"] {
            let script = format!(
                "exec unshare -rm sh -c '{setup} && CUTOVER_HOME=\"$1/state\" exec \"$2\" {cmd}' \
                 sh {} \"$0\"",
                q(&mnt)
            );
            refused_at_start(&home, &script, &state);
        }
    }
    // The mounts lived in the namespace only.
    assert_eq!(std::fs::read_dir(&mnt).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------
// 3 and 4. A damaged journal, a changed runbook copy.

/// A session with `session_started` and two `step_done`, closed.
fn closed_session(home: &Home) -> String {
    let rb = manual_runbook(home, 4);
    let mut tui = home.pty(COLS, ROWS, &[std::ffi::OsStr::new("run"), rb.as_os_str()]);
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("d");
    tui.wait_for_saved(3);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    home.only_session()
}

/// `resume` in a terminal is refused with `code` and a message holding every one of
/// `needles`, draws nothing, and changes no file of the session.
fn resume_refused(home: &Home, id: &str, code: u32, needles: &[&str]) {
    let before = session_files(home, id);
    for args in [vec!["resume", id], vec!["resume"]] {
        let mut tui = home.pty(COLS, ROWS, &args);
        let got = tui.wait_code();
        let text = tui.raw_text();
        assert_eq!(got, code, "{args:?}: {text}");
        assert_no_escapes(&text, "a refused resume");
        for n in needles {
            assert!(
                text.contains(n),
                "{args:?}: the message must hold {n:?}: {text}"
            );
        }
        assert!(
            session_files(home, id) == before,
            "{args:?}: a refused resume changed the session's files"
        );
    }
}

#[test]
fn a_journal_damaged_mid_file_is_refused_with_its_offset_and_left_alone() {
    let home = Home::new();
    let id = closed_session(&home);
    let path = home.journal(&id);
    let mut bytes = std::fs::read(&path).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    // Inside record 2, with record 3 intact after it: not a torn tail.
    bytes[second + 20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    resume_refused(
        &home,
        &id,
        65,
        &[
            &format!("byte offset {second}"),
            &path.display().to_string(),
        ],
    );
}

#[test]
fn a_runbook_copy_changed_since_the_start_is_refused_naming_it() {
    let home = Home::new();
    let id = closed_session(&home);
    let copy = home.state().join("sessions").join(&id).join("runbook.toml");
    let mut text = std::fs::read_to_string(&copy).unwrap();
    text = text.replace("Manual step number 3", "Manual step number three");
    std::fs::write(&copy, text).unwrap();
    resume_refused(
        &home,
        &id,
        65,
        &[
            &copy.display().to_string(),
            "was changed after the session started",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 5. A second writer. `e2e_pty::second_cutover_on_an_open_session_is_refused_naming_the_holder`
// covers exit 75, the holder named, and nothing drawn; here: the refusal writes nothing,
// and the lock dies with its holder.

#[test]
fn a_refused_second_writer_changes_nothing_and_the_lock_dies_with_its_holder() {
    let home = Home::new();
    let rb = manual_runbook(&home, 4);
    let mut first = home.pty(COLS, ROWS, &[std::ffi::OsStr::new("run"), rb.as_os_str()]);
    first.wait_for_saved(1);
    first.send("d");
    first.wait_for_saved(2);
    let id = home.only_session();
    let lock = home.state().join("sessions").join(&id).join("lock");
    let files = session_files(&home, &id);
    let holder = std::fs::read_to_string(&lock).unwrap();
    assert!(holder.contains(&format!("pid {}", first.pid())), "{holder}");

    let mut second = home.pty(COLS, ROWS, &["resume", id.as_str()]);
    assert_eq!(second.wait_code(), 75, "{}", second.raw_text());
    assert!(second.raw_text().contains(&format!("pid {}", first.pid())));
    assert!(
        session_files(&home, &id) == files,
        "the refused writer changed a file"
    );
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), holder);

    first.kill_9();
    first.wait_exit(TIMEOUT);
    let mut third = home.pty(COLS, ROWS, &["resume", id.as_str()]);
    third.wait_for_saved(3);
    let now = std::fs::read_to_string(&lock).unwrap();
    assert!(now.contains(&format!("pid {}", third.pid())), "{now}");
    third.send("q");
    assert_eq!(third.wait_code(), 0);
}

// ---------------------------------------------------------------------------------------
// 6. Ended from outside: a panic, signals, the session leader dying, the terminal gone.

/// A session on the manual runbook with one step marked (saved #2).
fn started(home: &Home, env: &str) -> (Pty, String) {
    let rb = manual_runbook(home, 4);
    let mut tui = home.pty_sh(COLS, ROWS, &format!("{env} exec \"$0\" run {}", q(&rb)));
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    let id = home.only_session();
    (tui, id)
}

/// The journal still holds what was saved, and `resume` goes on from it.
fn resumes_intact(home: &Home, id: &str, saved: u64) {
    let status = home.status_json(id);
    assert_eq!(status["saved"], saved, "{status:#}");
    assert_eq!(status["open_by"], Value::Null, "{status:#}");
    let mut again = home.pty(COLS, ROWS, &["resume", id]);
    again.wait_for_saved(saved + 1);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    again.assert_restored();
    assert_eq!(done_steps(home, id), ["m1"]);
}

#[test]
fn a_panic_restores_the_terminal_logs_the_message_and_keeps_the_journal() {
    let home = Home::new();
    let (mut tui, id) = started(&home, "CUTOVER_FI_PANIC_ON=x");
    let from = Instant::now();
    tui.send("x");
    let ending = wait_gone(tui.pid(), from, "after the panic");
    let status = tui.wait_exit(TIMEOUT);
    assert_eq!(status.exit_code(), 101, "{status:?}: {}", tui.raw_text());
    tui.assert_restored();
    let said = "fault injection: CUTOVER_FI_PANIC_ON=x was pressed";
    let text = tui.raw_text();
    let leave = rfind(&tui.raw(), common::ALT_LEAVE).unwrap();
    let at = text
        .find(said)
        .unwrap_or_else(|| panic!("the panic message is not on the terminal: {text:?}"));
    assert!(at > leave, "the panic message was drawn over by the screen");
    let log = std::fs::read_to_string(home.state().join("sessions").join(&id).join("cutover.log"))
        .unwrap();
    assert!(
        log.contains("panic") && log.contains(said),
        "cutover.log:\n{log}"
    );
    eprintln!(
        "panic: gone after {:?}, {:?} of CPU",
        ending.after, ending.cpu
    );
    resumes_intact(&home, &id, 2);
}

fn a_signal_ends_it_within_two_seconds(sig: libc::c_int) {
    let home = Home::new();
    let (mut tui, id) = started(&home, "");
    let from = Instant::now();
    tui.signal(sig);
    let ending = wait_gone(tui.pid(), from, &format!("after signal {sig}"));
    let status = tui.wait_exit(TIMEOUT);
    assert!(status.signal().is_none(), "killed by {:?}", status.signal());
    assert_eq!(status.exit_code(), 128 + sig as u32, "{}", tui.raw_text());
    tui.assert_restored();
    eprintln!(
        "signal {sig}: gone after {:?}, {:?} of CPU",
        ending.after, ending.cpu
    );
    resumes_intact(&home, &id, 2);
}

#[test]
fn sigterm_ends_it_within_two_seconds_without_spinning() {
    a_signal_ends_it_within_two_seconds(libc::SIGTERM);
}

#[test]
fn sighup_ends_it_within_two_seconds_without_spinning() {
    a_signal_ends_it_within_two_seconds(libc::SIGHUP);
}

/// Pids whose parent is `ppid`.
fn children(ppid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|t| {
                    let rest = &t[t.rfind(')')? + 2..];
                    rest.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(ppid)
        })
        .collect()
}

/// The shell that owns the terminal (the session leader, as a login shell over SSH is)
/// is killed: the kernel hangs up its foreground process group with SIGHUP.
#[test]
fn the_session_leader_dying_ends_it_within_two_seconds() {
    let home = Home::new();
    let rb = manual_runbook(&home, 4);
    // Not `exec`: the shell stays the session leader, with cutover its child.
    let mut tui = home.pty_sh(
        COLS,
        ROWS,
        &format!("\"$0\" run {}; echo \"cutover ended: $?\"", q(&rb)),
    );
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    let id = home.only_session();
    let kids = children(tui.pid());
    assert_eq!(kids.len(), 1, "the shell's children: {kids:?}");
    let cutover = kids[0];

    let from = Instant::now();
    tui.kill_9();
    let ending = wait_gone(cutover, from, "after its session leader was killed");
    tui.wait_exit(TIMEOUT);
    // The terminal itself is still there (this test holds it): it must be usable.
    tui.assert_restored();
    eprintln!(
        "leader killed: gone after {:?}, {:?} of CPU",
        ending.after, ending.cpu
    );
    resumes_intact(&home, &id, 2);
}

/// A terminal of the test's own making, so its master can be closed while the program
/// runs (the `common` one is closed only with its child killed first): what a dropped
/// SSH link or a killed terminal emulator does.
struct OwnPty {
    master: Option<OwnedFd>,
    slave: OwnedFd,
}

fn own_pty(cols: u16, rows: u16) -> OwnPty {
    // SAFETY: plain libc calls on fds this function owns; each result is checked.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = OwnedFd::from_raw_fd(m);
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
        let s = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(
            s >= 0,
            "open the pty slave: {}",
            std::io::Error::last_os_error()
        );
        let slave = OwnedFd::from_raw_fd(s);
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert_eq!(libc::ioctl(s, libc::TIOCSWINSZ, &size), 0);
        OwnPty {
            master: Some(master),
            slave,
        }
    }
}

/// The program on a terminal whose master this test closes. `controlling`: the terminal
/// is the program's controlling terminal (the kernel then also sends SIGHUP); else it
/// only reads EOF and fails to write, the case where no signal comes at all.
fn terminal_vanishes(controlling: bool) {
    let home = Home::new();
    let rb = manual_runbook(&home, 4);
    let mut pty = own_pty(COLS, ROWS);
    let mut cmd = Command::new(common::BIN);
    cmd.arg("run")
        .arg(&rb)
        .current_dir(home.path())
        .env("CUTOVER_HOME", home.state())
        .env("CUTOVER_CONFIG_DIR", common::no_config_dir())
        .env("TERM", "xterm-256color")
        .env("USER", common::USER)
        .env("LOGNAME", common::USER)
        .env_remove("CUTOVER_LOG")
        .env_remove("NO_COLOR")
        .env_remove("COLORTERM")
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env_remove("STY")
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
    // SAFETY: setsid and ioctl are async-signal-safe; nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if controlling && libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn cutover");
    let pid = child.id() as i32;
    drop(std::mem::replace(
        &mut pty.slave,
        // The parent keeps no slave: a closed master must leave the program alone with it.
        OwnedFd::from(std::fs::File::open("/dev/null").unwrap()),
    ));

    // Read (and parse) the screen until told to close the master.
    let master = pty.master.take().unwrap();
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZeroU16::new(ROWS).unwrap(),
        std::num::NonZeroU16::new(COLS).unwrap(),
        0,
    )));
    let close = Arc::new(AtomicBool::new(false));
    let reader = {
        let (parser, close) = (Arc::clone(&parser), Arc::clone(&close));
        std::thread::spawn(move || {
            let mut file = std::fs::File::from(master);
            let mut buf = [0u8; 8192];
            while !close.load(Ordering::SeqCst) {
                let mut pfd = libc::pollfd {
                    fd: file.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd on an fd this thread owns.
                let n = unsafe { libc::poll(&mut pfd, 1, 20) };
                if n > 0 {
                    match file.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => parser.lock().unwrap().process(&buf[..n]),
                    }
                }
            }
            // Dropping `file` closes the last master fd: the terminal is gone.
        })
    };
    let screen = || parser.lock().unwrap().screen().contents();
    let deadline = Instant::now() + TIMEOUT;
    while saved_on_screen(&screen()) < 1 {
        assert!(Instant::now() < deadline, "no `saved #1`:\n{}", screen());
        std::thread::sleep(Duration::from_millis(20));
    }

    close.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    let from = Instant::now();
    let what = if controlling {
        "after its controlling terminal vanished"
    } else {
        "after its terminal vanished"
    };
    let ending = wait_gone(pid, from, what);
    let status = child.wait().unwrap();
    assert!(
        status.code().is_some(),
        "{what}: ended by a signal instead of leaving: {status:?}"
    );
    eprintln!(
        "{what}: {status:?}, gone after {:?}, {:?} of CPU",
        ending.after, ending.cpu
    );
    // Nothing to print, nothing to restore: leaving takes a few ms of CPU. A reader
    // spinning on the dead terminal's end of file until something else notices burns a
    // core meanwhile (crossterm-rs/crossterm#793).
    assert!(
        ending.cpu < Duration::from_millis(100),
        "{what}: {:?} of CPU between the hangup and the exit: a spin",
        ending.cpu
    );
    let id = home.only_session();
    resumes_intact_after_vanishing(&home, &id);
}

/// Like [`resumes_intact`], for a session where nothing was marked.
fn resumes_intact_after_vanishing(home: &Home, id: &str) {
    let status = home.status_json(id);
    assert_eq!(status["saved"], 1, "{status:#}");
    assert_eq!(status["open_by"], Value::Null, "{status:#}");
    let mut again = home.pty(COLS, ROWS, &["resume", id]);
    again.wait_for_saved(2);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    again.assert_restored();
}

#[test]
fn a_vanished_terminal_ends_it_within_two_seconds_without_spinning() {
    terminal_vanishes(false);
}

#[test]
fn a_vanished_controlling_terminal_ends_it_within_two_seconds() {
    terminal_vanishes(true);
}
