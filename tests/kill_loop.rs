//! The kill -9 loop: an operator drives the demo runbook with random keys, the process is
//! killed at a random moment, and the journal must hold every action the screen showed as
//! saved. Then the session is resumed and the loop goes on, so one session grows through
//! every iteration (its journal cut, re-opened and appended to again and again).
//!
//! `KILL_LOOP_ITERATIONS` (default 30) and `KILL_LOOP_SEED` (default: from the clock,
//! printed) tune the loop; `scripts/kill-loop.sh` runs the long one.

mod common;

use std::time::{Duration, Instant};

use common::{Home, Pty, TIMEOUT};
use serde_json::Value;

/// Wide enough for the side-by-side layout, whose last row is the status bar.
const COLS: u16 = 100;
const ROWS: u16 = 30;
/// Each frame ends with this (crossterm's EndSynchronizedUpdate).
const FRAME_END: &[u8] = b"\x1b[?2026l";
/// How long a wanted frame may take. Generous: a loaded 2-core machine may take seconds
/// to start a debug binary.
const FRAME_WAIT: Duration = Duration::from_secs(30);

/// splitmix64: small, and the same sequence for the same seed on every platform, so a
/// printed seed replays a failing run key for key (the timing of course differs).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max + 1))
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The screen as of the last *whole* frame. The shared parser in `common` shows bytes as
/// they arrive, so a frame read half-way could pair new digits with old ones ("saved #19"
/// becoming "#20" can read "#29" for a moment) and claim an acknowledgement that never
/// happened. Every frame is a synchronized update, so feeding a parser of our own only up
/// to the last end-of-frame marker sees exactly what the program drew, frame by frame.
struct Frames {
    parser: vt100::Parser,
    fed: usize,
    /// The highest `saved #N` on any whole frame so far.
    max_saved: Option<u64>,
}

impl Frames {
    fn new() -> Frames {
        let nz = |n: u16| std::num::NonZeroU16::new(n).expect("a non-empty terminal");
        Frames {
            parser: vt100::Parser::new(nz(ROWS), nz(COLS), 0),
            fed: 0,
            max_saved: None,
        }
    }

    /// Takes in the frames finished since the last look and returns the highest saved # so
    /// far. Frames skipped over (several finished between two looks) are not inspected:
    /// the check only ever misses an acknowledgement, never invents one.
    fn look(&mut self, pty: &Pty) -> Option<u64> {
        let raw = pty.raw();
        if let Some(at) = common::rfind(&raw[self.fed..], FRAME_END) {
            let end = self.fed + at + FRAME_END.len();
            self.parser.process(&raw[self.fed..end]);
            self.fed = end;
            let screen = self.parser.screen();
            let last = screen.rows(0, COLS).last().unwrap_or_default();
            if let Some(n) = saved_on(&last) {
                self.max_saved = Some(self.max_saved.map_or(n, |m| m.max(n)));
            }
        }
        self.max_saved
    }

    /// Waits until a whole frame shows `saved #N` with `want(N)`; panics with the screen
    /// if the program exits or the time runs out first.
    fn wait_saved(&mut self, pty: &Pty, what: &str, want: impl Fn(u64) -> bool) -> u64 {
        let deadline = Instant::now() + FRAME_WAIT;
        loop {
            if let Some(n) = self.look(pty).filter(|&n| want(n)) {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} (pid {}); last whole frame:\n{}\n--- shared \
                 screen:\n{}",
                pty.pid(),
                self.parser.screen().contents(),
                pty.screen()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// N from the status bar's ` saved #N `.
fn saved_on(row: &str) -> Option<u64> {
    let (_, after) = row.rsplit_once("saved #")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Text for reasons and notes, made only of keys the checklist does not bind (no d, s, k,
/// l, q, R...): when the box it was meant for did not open (a skip refused, a finished
/// session that cannot be extended), the text lands on the checklist and must not quit,
/// open the pager or start a rollback.
fn words(rng: &mut Rng, it: usize) -> String {
    let word = rng.pick(&["zap", "why", "ohio", "cab", "hop", "zip", "chip", "AB-CD"]);
    format!("{word} {it} {}", rng.below(1000))
}

/// One operator action, as the chunks typed with a pause between them. Each starts with
/// ctrl-g, which closes whatever box or editor the previous action left open and does
/// nothing on the checklist, so most actions reach the checklist.
fn action(rng: &mut Rng, it: usize) -> Vec<String> {
    const CLOSE: &str = "\x07";
    let keys: Vec<String> = match rng.below(100) {
        // Journals `step_done`, or opens the gate box (unmet `requires`), or is refused.
        0..20 => vec!["d".into()],
        // Journal nothing.
        20..35 => vec!["j".into()],
        35..47 => vec!["k".into()],
        47..57 => vec!["s".into(), words(rng, it), "\r".into()],
        57..67 => vec!["n".into(), words(rng, it), "\r".into()],
        67..82 => vec!["u".into()],
        82..87 => vec![
            "e".into(),
            "30m".into(),
            "\r".into(),
            words(rng, it),
            "\r".into(),
        ],
        // Marks a manual step done, runs a command (harmless: it echoes, sleeps, writes
        // in the scratch directory), starts the backups, or opens a message or a box.
        _ => vec!["\r".into()],
    };
    std::iter::once(CLOSE.to_string()).chain(keys).collect()
}

enum Violation {
    /// The screen showed `saved #shown`, the journal on disk ends before it.
    Lost {
        it: usize,
        shown: u64,
        last_seq: u64,
    },
    /// `verify` found the journal damaged (not just a torn last line).
    Damaged { it: usize, report: Value },
    /// `status --json` replays a different number of records than `verify` counted.
    StatusDisagrees {
        it: usize,
        saved: Value,
        last_seq: u64,
    },
    /// The process was gone before the kill (a crash or an exit nobody asked for).
    ExitedByItself { it: usize, status: String },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Lost {
                it,
                shown,
                last_seq,
            } => write!(
                f,
                "iteration {it}: the screen showed saved #{shown}, the journal ends at #{last_seq}"
            ),
            Violation::Damaged { it, report } => {
                write!(
                    f,
                    "iteration {it}: verify says the journal is damaged: {report:#}"
                )
            }
            Violation::StatusDisagrees {
                it,
                saved,
                last_seq,
            } => write!(
                f,
                "iteration {it}: status --json says saved {saved}, verify says last_seq {last_seq}"
            ),
            Violation::ExitedByItself { it, status } => {
                write!(
                    f,
                    "iteration {it}: the program ended before the kill: {status}"
                )
            }
        }
    }
}

/// One violation a line, for assertion messages.
fn listed(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("\n  {v}")).collect()
}

struct Config {
    iterations: usize,
    seed: u64,
    /// Run the binary with `CUTOVER_FI_LOSE_LAST=1` (debug builds only).
    lose_last: bool,
}

#[derive(Default)]
struct Tally {
    iterations: usize,
    kills: usize,
    /// The highest `saved #N` seen over the whole loop.
    max_saved: u64,
    /// Kills that left a torn last line (cut by `verify`'s count, then by resume).
    torn_tails: usize,
    violations: Vec<Violation>,
    elapsed: Duration,
}

impl Tally {
    fn summary(&self, seed: u64) -> String {
        format!(
            "kill loop: {} iterations, {} kills, max saved #{}, {} torn tails, violations {}, \
             seed {seed}, {:.1}s",
            self.iterations,
            self.kills,
            self.max_saved,
            self.torn_tails,
            self.violations.len(),
            self.elapsed.as_secs_f64()
        )
    }
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}")),
    )
}

fn seed() -> u64 {
    env_number("KILL_LOOP_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        // Two tests starting in the same nanosecond still differ by their thread.
        (now.as_nanos() as u64) ^ ((std::process::id() as u64) << 32)
    })
}

/// The demo's scratch directory (`$SCRATCH/cutover-demo-<session>`, SCRATCH=/tmp): removed
/// once nothing of the session runs any more, so the loop leaves nothing behind.
struct Scratch(Option<String>);

impl Drop for Scratch {
    fn drop(&mut self) {
        let Some(id) = self.0.take() else { return };
        let marker = format!("CUTOVER_SESSION={id}\0");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && session_processes_left(&marker) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::fs::remove_dir_all(format!("/tmp/cutover-demo-{id}"));
    }
}

/// Whether a process with `marker` in its environment (a step or backup of the session,
/// detached and outliving the killed screen) still runs.
fn session_processes_left(marker: &str) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        std::fs::read(p.path().join("environ"))
            .is_ok_and(|env| env.windows(marker.len()).any(|w| w == marker.as_bytes()))
    })
}

/// The loop. Returns what it saw, violations included, rather than asserting, so the
/// negative control can run the same code and expect violations.
fn kill_loop(cfg: &Config) -> Tally {
    let started = Instant::now();
    let home = Home::new();
    let mut rng = Rng(cfg.seed);
    let mut tally = Tally::default();
    let mut scratch = Scratch(None);
    let mut id: Option<String> = None;

    for it in 1..=cfg.iterations {
        let command = match &id {
            None => "demo".to_string(),
            Some(id) => format!("resume {id}"),
        };
        // The environment is set either way, so a CUTOVER_FI_LOSE_LAST the developer left
        // exported cannot turn the real test into the negative control.
        let script = if cfg.lose_last {
            format!("CUTOVER_FI_LOSE_LAST=1 exec \"$0\" {command}")
        } else {
            format!("unset CUTOVER_FI_LOSE_LAST; exec \"$0\" {command}")
        };
        let mut pty = home.pty_sh(COLS, ROWS, &script);
        let mut frames = Frames::new();
        // Keys typed before the program switches the terminal to raw mode would sit in
        // the line discipline: wait for its first frame.
        frames.wait_saved(&pty, "the first frame with saved #N", |_| true);

        if id.is_none() {
            // One saved action before any kill: `session_started` alone (in the negative
            // control, held back unwritten) would leave nothing to resume.
            pty.send("d");
            frames.wait_saved(&pty, "saved #2 after the first `d`", |n| n >= 2);
            let session = home.only_session();
            assert!(
                session
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "a session id that cannot go into a shell line unquoted: {session:?}"
            );
            scratch.0 = Some(session.clone());
            id = Some(session);
        }
        let id = id
            .as_deref()
            .expect("the session id is known after the first iteration");

        for _ in 0..1 + rng.below(6) {
            for chunk in action(&mut rng, it) {
                // The pause comes before the key, so the last key is followed by the
                // kill's own 0-400 ms and nothing else.
                std::thread::sleep(rng.millis(80));
                frames.look(&pty);
                pty.send(&chunk);
            }
        }
        let kill_at = Instant::now() + rng.millis(400);
        while Instant::now() < kill_at {
            frames.look(&pty);
            std::thread::sleep(Duration::from_millis(5).min(kill_at - Instant::now()));
        }
        pty.kill_9();
        let status = pty.wait_exit(TIMEOUT);
        // Whatever the program drew before it died is still in the pty and is read now.
        // Any frame it finished showed an acknowledgement given before the kill, so this
        // only makes the check stronger. The screen can lag the program the other way
        // too (a frame drawn just before the kill may never be read), which only weakens
        // the check: it compares the journal with acks we saw, a subset of those given.
        frames.look(&pty);
        if status.signal().is_some() {
            tally.kills += 1;
        } else {
            tally.violations.push(Violation::ExitedByItself {
                it,
                status: format!("{status:?}; screen:\n{}", pty.screen()),
            });
        }
        tally.iterations = it;
        let shown = frames.max_saved.unwrap_or(0);
        tally.max_saved = tally.max_saved.max(shown);

        let out = home.run(&["verify", id, "--json"]);
        let report: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("iteration {it}: verify --json is not JSON ({e}): {out:?}"));
        let ok = report["ok"].as_bool();
        assert!(
            (ok == Some(true) && out.code == 0) || (ok == Some(false) && out.code == 65),
            "iteration {it}: verify must exit 0 when ok and 65 when damaged: {out:?}"
        );
        if ok == Some(false) {
            // A damaged journal cannot be resumed: the loop ends here.
            tally.violations.push(Violation::Damaged { it, report });
            break;
        }
        let last_seq = report["last_seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("iteration {it}: verify without last_seq: {report:#}"));
        let torn = report["torn_tail_bytes"].as_u64().unwrap_or_else(|| {
            panic!("iteration {it}: verify without torn_tail_bytes: {report:#}")
        });
        if torn > 0 {
            tally.torn_tails += 1;
        }
        if last_seq < shown {
            tally.violations.push(Violation::Lost {
                it,
                shown,
                last_seq,
            });
        }
        let saved = home.status_json(id)["saved"].clone();
        if saved.as_u64() != Some(last_seq) {
            tally.violations.push(Violation::StatusDisagrees {
                it,
                saved,
                last_seq,
            });
        }
    }
    tally.elapsed = started.elapsed();
    drop(scratch);
    tally
}

#[test]
fn every_action_shown_as_saved_survives_kill_9_in_a_loop() {
    let cfg = Config {
        iterations: env_number("KILL_LOOP_ITERATIONS").unwrap_or(30) as usize,
        seed: seed(),
        lose_last: false,
    };
    println!(
        "kill loop seed {} (replay with KILL_LOOP_SEED={})",
        cfg.seed, cfg.seed
    );
    let tally = kill_loop(&cfg);
    println!("{}", tally.summary(cfg.seed));
    assert!(
        tally.violations.is_empty(),
        "{}; replay with KILL_LOOP_SEED={}:{}",
        tally.summary(cfg.seed),
        cfg.seed,
        listed(&tally.violations)
    );
    assert_eq!(tally.kills, cfg.iterations, "{}", tally.summary(cfg.seed));
}

/// The negative control: a binary that acknowledges each record before writing it (it
/// goes to disk only with the next append) loses the last acknowledged action at every
/// kill, and the loop must say so.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "CUTOVER_FI_LOSE_LAST exists only in debug builds"
)]
fn kill_loop_detects_a_lost_acknowledgement() {
    let cfg = Config {
        iterations: 3,
        seed: seed(),
        lose_last: true,
    };
    println!(
        "kill loop (lose last) seed {} (replay with KILL_LOOP_SEED={})",
        cfg.seed, cfg.seed
    );
    let tally = kill_loop(&cfg);
    println!(
        "{} (CUTOVER_FI_LOSE_LAST=1):{}",
        tally.summary(cfg.seed),
        listed(&tally.violations)
    );
    let lost = tally
        .violations
        .iter()
        .filter(|v| matches!(v, Violation::Lost { .. }))
        .count();
    assert!(
        lost > 0,
        "with CUTOVER_FI_LOSE_LAST=1 the loop saw no lost acknowledgement: {}{}",
        tally.summary(cfg.seed),
        listed(&tally.violations)
    );
    // Losing the tail is the only fault injected: the journal must still verify, and
    // status must still agree with it.
    assert_eq!(
        lost,
        tally.violations.len(),
        "violations other than lost acknowledgements:{}",
        listed(&tally.violations)
    );
}
