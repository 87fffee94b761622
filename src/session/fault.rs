//! Fault injection for the end-to-end tests, compiled into debug builds only.
//!
//! The tests drive the real binary, so the faults are switched on by environment
//! variables, read once:
//!
//! - `CUTOVER_FI_FAIL_WHILE=<path>`: while that file exists, every journal write and
//!   fsync fails with ENOSPC, as on a full disk (the file is looked for at each one, so
//!   a test fills and frees "the disk" by creating and removing it).
//! - `CUTOVER_FI_LOSE_LAST=1`: the journal acknowledges each record but holds the most
//!   recent one back and writes it only with the next append, like a buffered writer
//!   that forgot to flush: a `kill -9` then loses the last acknowledged action. The
//!   negative control of the crash tests.
//! - `CUTOVER_FI_PANIC_ON=<char>`: the event loop panics when that key is pressed.
//!
//! A release build (`debug_assertions` off, as in `cargo build --release`) compiles the
//! stubs at the bottom instead: they never read the environment and are constants the
//! optimiser folds away, so no variable can put a fault into a production binary. The
//! proof is the `cfg` on the two modules: the only code that reads these variables is
//! in `imp`, which does not exist in a release build.

#[cfg(debug_assertions)]
mod imp {
    use std::path::PathBuf;
    use std::sync::OnceLock;

    struct Faults {
        fail_while: Option<PathBuf>,
        lose_last: bool,
        panic_on: Option<char>,
    }

    fn faults() -> &'static Faults {
        static FAULTS: OnceLock<Faults> = OnceLock::new();
        FAULTS.get_or_init(|| {
            let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
            let faults = Faults {
                fail_while: var("CUTOVER_FI_FAIL_WHILE").map(PathBuf::from),
                lose_last: var("CUTOVER_FI_LOSE_LAST").is_some_and(|v| v == "1"),
                panic_on: var("CUTOVER_FI_PANIC_ON")
                    .and_then(|v| v.to_str().and_then(|s| s.chars().next())),
            };
            if faults.fail_while.is_some() || faults.lose_last || faults.panic_on.is_some() {
                tracing::warn!(
                    fail_while = ?faults.fail_while,
                    lose_last = faults.lose_last,
                    panic_on = ?faults.panic_on,
                    "fault injection is on (a debug build)"
                );
            }
            faults
        })
    }

    pub fn journal_io() -> std::io::Result<()> {
        match &faults().fail_while {
            Some(flag) if flag.exists() => {
                tracing::warn!(
                    "fault injection: failing a journal write ({})",
                    flag.display()
                );
                Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
            }
            _ => Ok(()),
        }
    }

    pub fn lose_last() -> bool {
        faults().lose_last
    }

    pub fn panic_key() -> Option<char> {
        faults().panic_on
    }
}

#[cfg(not(debug_assertions))]
mod imp {
    #[inline(always)]
    pub fn journal_io() -> std::io::Result<()> {
        Ok(())
    }

    #[inline(always)]
    pub fn lose_last() -> bool {
        false
    }

    #[inline(always)]
    pub fn panic_key() -> Option<char> {
        None
    }
}

/// Called before each journal write and each journal fsync: `Err` (ENOSPC) while the
/// `CUTOVER_FI_FAIL_WHILE` file exists. Always `Ok` in a release build.
pub fn journal_io() -> std::io::Result<()> {
    imp::journal_io()
}

/// `CUTOVER_FI_LOSE_LAST=1`. Always false in a release build.
pub fn lose_last() -> bool {
    imp::lose_last()
}

/// The key of `CUTOVER_FI_PANIC_ON`. Always `None` in a release build.
pub fn panic_key() -> Option<char> {
    imp::panic_key()
}
