//! Where sessions live: the state dir, one folder per session, its lock and its files.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::event::Record;
use super::journal::{self, Journal, JournalError, OpenReport};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Also a state directory that is not private (see [`NotPrivate`]): the operator fixes
    /// both the same way, and both exit 73.
    #[error("{}", unwritable(path, source))]
    Unwritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no session `{id}` in {}. `cutover sessions --all` lists them.", root.display())]
    NotFound { id: String, root: PathBuf },
    #[error("no unfinished session to resume in {}. `cutover sessions --all` lists every session; `cutover run RUNBOOK` starts one.", root.display())]
    NothingToResume { root: PathBuf },
    #[error(
        "session {id} is already open (held by {holder}). Only one cutover may drive a \
         session at a time; close the other one, or if it is gone for good, wait for its \
         process to end."
    )]
    Locked { id: String, holder: String },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

fn unwritable(path: &Path, source: &std::io::Error) -> String {
    if let Some(not_private) = source
        .get_ref()
        .and_then(|e| e.downcast_ref::<NotPrivate>())
    {
        return not_private.to_string();
    }
    format!(
        "cannot use the state directory {}: {source}. Set CUTOVER_HOME to a writable \
         local directory, or fix the permissions of this one.",
        path.display()
    )
}

/// A directory of the store that someone else could change: sessions kept there could be
/// read, replaced or redirected (a planted symlink) by another user, so cutover refuses
/// to start rather than drive a night's work from it.
#[derive(Debug, thiserror::Error)]
#[error("refusing the state directory {}: {problem}. {fix}", path.display())]
pub struct NotPrivate {
    pub path: PathBuf,
    pub problem: String,
    pub fix: String,
}

/// Refuses `path` unless it is a real directory (not a symlink), owned by this user and
/// writable by nobody else. `Ok(false)` when it does not exist (yet).
///
/// Only the store root and the directories below it are checked, not the root's
/// parents: `/tmp` is writable by everyone, but its sticky bit keeps others from
/// renaming or removing what we own in it, and a private directory inside is private. A
/// parent writable by others *without* a sticky bit would let them swap the whole root;
/// that is the system's configuration, which cutover does not second-guess.
/// Below a private session directory nobody else can add, remove or replace anything,
/// so its files need no check of their own.
pub fn check_private(path: &Path) -> Result<bool, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(StoreError::Unwritable {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let shown = path.display();
    let refuse = |problem: String, fix: String| {
        Err(StoreError::Unwritable {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                NotPrivate {
                    path: path.to_path_buf(),
                    problem,
                    fix,
                },
            ),
        })
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| format!(" to {}", t.display()))
            .unwrap_or_default();
        return refuse(
            format!(
                "it is a symbolic link{target}, which whoever can change the link could point elsewhere"
            ),
            "Point CUTOVER_HOME (or `state_dir` in config.toml) at the real directory instead"
                .to_string(),
        );
    }
    if !meta.is_dir() {
        return refuse(
            "it is not a directory".to_string(),
            "Move it away, or point CUTOVER_HOME (or `state_dir`) elsewhere".to_string(),
        );
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return refuse(
            format!(
                "it belongs to user id {}, not to you (user id {me})",
                meta.uid()
            ),
            format!(
                "Use a state directory of your own (CUTOVER_HOME), or have its owner run \
                 `chown {me} {shown}`"
            ),
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "its group and everyone else",
            (true, false) => "its group",
            _ => "everyone else",
        };
        return refuse(
            format!(
                "it is writable by {who} (mode {mode:04o}), who could then change or replace the sessions in it"
            ),
            format!("Run `chmod 700 {shown}`"),
        );
    }
    Ok(true)
}

pub struct Store {
    root: PathBuf,
}

/// The lock on a session, held for as long as this value lives (the OS drops the lock
/// when the process dies, so a `kill -9` never leaves a stale lock behind).
pub struct SessionLock {
    _file: File,
}

/// Identity of whoever drives a session: `user@host`.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(user_from_passwd)
        .unwrap_or_else(|| format!("uid{}", unsafe_uid()));
    format!("{user}@{}", hostname())
}

fn unsafe_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The login name from the password database, for shells (cron, tmux, sudo) that do
/// not set `$USER`.
fn user_from_passwd() -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, both owned here and sized as
    // passed; `result` is null unless an entry was found.
    let rc = unsafe {
        libc::getpwuid_r(
            unsafe_uid(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf` as a NUL-terminated string on success.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into a buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A directory only its owner can enter (0700), with its parents. The mode is given at
/// creation, so no moment exists where it is wider; the umask can only narrow it, and a
/// umask of 000 leaves it 0700. An existing directory keeps its mode.
pub(crate) fn mkdir_private(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

impl Store {
    /// `$CUTOVER_HOME`, else the platform state dir (`~/.local/state/cutover` on Linux).
    pub fn default_root() -> Option<PathBuf> {
        if let Some(home) = std::env::var_os("CUTOVER_HOME").filter(|h| !h.is_empty()) {
            return Some(PathBuf::from(home));
        }
        let dirs = directories::ProjectDirs::from("", "", "cutover")?;
        Some(
            dirs.state_dir()
                .map_or_else(|| dirs.data_local_dir().to_path_buf(), Path::to_path_buf),
        )
    }

    /// Opens the store for driving a session, creating it (0700) if needed; refuses one
    /// that is not private ([`check_private`]) and proves it is writable before any
    /// session depends on it.
    pub fn open(root: PathBuf) -> Result<Store, StoreError> {
        let unwritable = |source| StoreError::Unwritable {
            path: root.clone(),
            source,
        };
        let sessions = root.join("sessions");
        // Checked before creating anything: through a symlinked root, even creating
        // `sessions/` would write where the link points.
        check_private(&root)?;
        check_private(&sessions)?;
        mkdir_private(&sessions).map_err(unwritable)?;
        // Again, now that both exist: either may have been created just now, by us or
        // (in a shared parent such as /tmp) by someone else first.
        check_private(&root)?;
        check_private(&sessions)?;
        let probe = root.join(format!(".write-test-{}", std::process::id()));
        // A leftover of a crashed run with the same pid is simply overwritten.
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&probe)
            .and_then(|mut f| f.write_all(b"ok"))
            .map_err(unwritable)?;
        let _ = std::fs::remove_file(&probe);
        Ok(Store { root })
    }

    /// Opens the store only for reading (`status`, `sessions`): nothing is created.
    pub fn open_existing(root: PathBuf) -> Store {
        Store { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn session_dir(&self, id: &str) -> PathBuf {
        self.root.join("sessions").join(id)
    }

    /// A new session folder with its lock taken, its runbook copy and an empty journal.
    pub fn create_session(
        &self,
        now: Timestamp,
        runbook_source: &str,
    ) -> Result<(SessionPaths, SessionLock, Journal), StoreError> {
        let mut attempt = 0u32;
        let (id, dir) = loop {
            let id = new_id(now, attempt);
            let dir = self.session_dir(&id);
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    // The new folder's entry must survive a power loss too.
                    journal::sync_dir(&self.root.join("sessions")).map_err(|source| {
                        StoreError::Unwritable {
                            path: self.root.join("sessions"),
                            source,
                        }
                    })?;
                    break (id, dir);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 50 => {
                    attempt += 1;
                }
                Err(source) => {
                    return Err(StoreError::Unwritable { path: dir, source });
                }
            }
        };
        let paths = SessionPaths::new(id, dir);
        let lock = lock(&paths)?;
        write_private(&paths.runbook(), runbook_source.as_bytes())?;
        let journal = Journal::create(&paths.journal())?;
        Ok((paths, lock, journal))
    }

    /// Opens an existing session for driving: takes its lock, then opens the journal
    /// (cutting a torn tail).
    pub fn open_session(
        &self,
        id: &str,
    ) -> Result<(SessionPaths, SessionLock, Journal, Vec<Record>, OpenReport), StoreError> {
        let paths = self.existing(id)?;
        check_private(&paths.dir)?;
        let lock = lock(&paths)?;
        let (journal, records, report) = Journal::open(&paths.journal())?;
        Ok((paths, lock, journal, records, report))
    }

    pub fn existing(&self, id: &str) -> Result<SessionPaths, StoreError> {
        let dir = self.session_dir(id);
        let valid = !id.is_empty() && !id.contains('/') && !id.starts_with('.');
        if !valid || !dir.join("journal.jsonl").is_file() {
            return Err(StoreError::NotFound {
                id: id.to_string(),
                root: self.root.clone(),
            });
        }
        Ok(SessionPaths::new(id.to_string(), dir))
    }

    /// Removes a session whose first record could not be written: it holds nothing, and
    /// left behind it would be picked as "the most recent session" by `resume`.
    pub fn discard_empty(&self, paths: &SessionPaths) {
        let empty = std::fs::metadata(paths.journal()).is_ok_and(|m| m.len() == 0);
        if empty {
            let _ = std::fs::remove_dir_all(&paths.dir);
        }
    }

    /// Session ids, oldest first (ids sort by start time).
    pub fn ids(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.root.join("sessions");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "list",
                    path: dir,
                    source,
                });
            }
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("journal.jsonl").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Who holds the session's lock right now, if anyone.
    pub fn holder(&self, paths: &SessionPaths) -> Option<String> {
        let mut file = File::open(paths.lock()).ok()?;
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                None
            }
            Err(_) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Some(describe_holder(&text))
            }
        }
    }
}

/// Who drives the session now, read from its lock file *without* taking the lock: a
/// watcher probing it, even for a moment, could make a `resume` at that instant fail.
/// The lock file outlives its holder, so the pid it names must still be alive.
pub fn driver(paths: &SessionPaths) -> Option<String> {
    let text = std::fs::read_to_string(paths.lock()).unwrap_or_default();
    let text = text.trim();
    let named = holder_pid(text);
    match flock_holder(&paths.lock()) {
        // The kernel's own record: exact, and immune to a reused pid.
        Some(Some(pid)) if named == Some(pid) => Some(text.to_string()),
        // Caught between the lock being taken and the file being rewritten.
        Some(Some(pid)) => Some(format!("another cutover process, pid {pid}")),
        Some(None) => None,
        // No /proc/locks to ask: the pid the file names, if it still lives.
        None => named
            .filter(|&pid| pid_alive(pid))
            .map(|_| text.to_string()),
    }
}

/// Who holds an flock on `path`, from `/proc/locks`: `Some(None)` when nobody does,
/// `None` when it cannot be told (no /proc). Reading it takes no lock.
fn flock_holder(path: &Path) -> Option<Option<i32>> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    Some(parse_proc_locks(
        &locks,
        libc::major(meta.dev()),
        libc::minor(meta.dev()),
        meta.ino(),
    ))
}

/// The pid of the FLOCK entry on device `major:minor`, inode `ino`. Lines look like
/// `1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF`; waiters (`1: -> FLOCK …`) hold
/// nothing and are skipped.
fn parse_proc_locks(text: &str, major: u32, minor: u32, ino: u64) -> Option<i32> {
    text.lines().find_map(|line| {
        let mut fields = line.split_whitespace().skip(1);
        if fields.next()? != "FLOCK" {
            return None;
        }
        let pid: i32 = fields.nth(2)?.parse().ok()?;
        let mut id = fields.next()?.split(':');
        let maj = u32::from_str_radix(id.next()?, 16).ok()?;
        let min = u32::from_str_radix(id.next()?, 16).ok()?;
        let inode: u64 = id.next()?.parse().ok()?;
        (maj == major && min == minor && inode == ino).then_some(pid)
    })
}

/// The pid in `user@host, pid N, since …`, as [`lock`] writes it.
fn holder_pid(text: &str) -> Option<i32> {
    text.split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("pid "))
        .and_then(|n| n.trim().parse::<i32>().ok())
        .filter(|&n| n > 0)
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks whether the process exists; it sends
    // nothing and has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn describe_holder(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        "another cutover process".into()
    } else {
        text.to_string()
    }
}

fn new_id(now: Timestamp, attempt: u32) -> String {
    let salt = (std::process::id() ^ now.subsec_nanosecond().unsigned_abs()).wrapping_add(attempt);
    format!("{}-{:04x}", now.strftime("%Y%m%d-%H%M%S"), salt & 0xffff)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(())
}

fn lock(paths: &SessionPaths) -> Result<SessionLock, StoreError> {
    let path = paths.lock();
    let io = |action| {
        let path = path.clone();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io("open the lock"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(StoreError::Locked {
                id: paths.id.clone(),
                holder: describe_holder(&text),
            });
        }
        Err(std::fs::TryLockError::Error(source)) => {
            return Err(StoreError::Io {
                action: "lock",
                path,
                source,
            });
        }
    }
    let since = Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC");
    let holder = format!("{}, pid {}, since {since}", operator(), std::process::id());
    file.set_len(0).map_err(io("write the lock"))?;
    file.rewind().map_err(io("write the lock"))?;
    file.write_all(holder.as_bytes())
        .map_err(io("write the lock"))?;
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    Ok(SessionLock { _file: file })
}

/// The files of one session.
#[derive(Debug, Clone)]
pub struct SessionPaths {
    pub id: String,
    pub dir: PathBuf,
}

impl SessionPaths {
    fn new(id: String, dir: PathBuf) -> Self {
        SessionPaths { id, dir }
    }
    /// Saved drafts and sent messages, `<n>-<phase>.txt`.
    pub fn messages(&self) -> PathBuf {
        self.dir.join("messages")
    }
    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }
    pub fn runbook(&self) -> PathBuf {
        self.dir.join("runbook.toml")
    }
    pub fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("cutover.log")
    }
    pub fn read_runbook(&self) -> Result<String, StoreError> {
        std::fs::read_to_string(self.runbook()).map_err(|source| StoreError::Io {
            action: "read the runbook copy",
            path: self.runbook(),
            source,
        })
    }
    pub fn read_journal(&self) -> Result<(Vec<Record>, OpenReport), StoreError> {
        Ok(journal::read(&self.journal())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_is_read_without_the_lock_and_only_while_alive() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_path_buf()).unwrap();
        let (paths, lock, _j) = store.create_session(Timestamp::now(), "x").unwrap();
        let d = driver(&paths).expect("the lock holder (this process) drives it");
        assert!(d.contains(&format!("pid {}", std::process::id())), "{d}");
        // Reading who drives did not take the lock: it is still exclusively ours, and
        // once released anyone can take it.
        assert!(matches!(
            store.open_session(&paths.id),
            Err(StoreError::Locked { .. })
        ));
        drop(lock);
        // The file stays behind naming a pid; a lock nobody holds means no driver, even
        // when the pid it names is alive (reused by another process: here, this one).
        std::fs::write(paths.lock(), "ghost@host, pid 2147483646, since then").unwrap();
        assert_eq!(driver(&paths), None);
        let me = format!("ghost@host, pid {}, since then", std::process::id());
        std::fs::write(paths.lock(), &me).unwrap();
        assert_eq!(
            driver(&paths),
            None,
            "a live pid without the lock drives nothing"
        );
        let locks = "1: POSIX  ADVISORY  WRITE 99 08:01:77 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 5555 fd:01:1234 0 EOF\n";
        assert_eq!(parse_proc_locks(locks, 0xfd, 1, 1234), Some(4242));
        assert_eq!(parse_proc_locks(locks, 0xfd, 1, 1235), None);
        assert_eq!(
            parse_proc_locks(locks, 8, 1, 77),
            None,
            "POSIX locks are not ours"
        );
        assert_eq!(holder_pid("a@b, pid 12, since x"), Some(12));
        assert_eq!(holder_pid("a@b, since x"), None);
        assert_eq!(holder_pid("a@b, pid -1"), None);
    }

    #[test]
    fn second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_path_buf()).unwrap();
        let (paths, _lock, _j) = store.create_session(Timestamp::now(), "x").unwrap();
        match store.open_session(&paths.id) {
            Err(StoreError::Locked { holder, .. }) => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                );
                assert!(holder.contains('@'), "{holder}");
            }
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("a locked session was opened twice"),
        }
        assert!(store.holder(&paths).is_some());
    }

    #[test]
    fn lock_is_released_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_path_buf()).unwrap();
        let (paths, lock, j) = store.create_session(Timestamp::now(), "x").unwrap();
        drop((lock, j));
        assert!(store.holder(&paths).is_none());
        assert!(store.open_session(&paths.id).is_ok());
    }

    #[test]
    fn files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("state")).unwrap();
        let (paths, _l, _j) = store.create_session(Timestamp::now(), "x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.dir), 0o700);
        assert_eq!(mode(&paths.journal()), 0o600);
        assert_eq!(mode(&paths.runbook()), 0o600);
        assert_eq!(mode(&paths.lock()), 0o600);
    }

    #[test]
    fn only_a_private_directory_of_ours_passes() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok");
        mkdir_private(&ok).unwrap();
        assert!(check_private(&ok).unwrap());
        assert!(!check_private(&dir.path().join("missing")).unwrap());
        let message = |p: &Path| check_private(p).unwrap_err().to_string();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        let m = message(&link);
        assert!(
            m.contains("symbolic link to") && m.contains("real directory"),
            "{m}"
        );
        std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o2775)).unwrap();
        let m = message(&ok);
        assert!(
            m.starts_with(&format!("refusing the state directory {}", ok.display()))
                && m.contains("writable by its group (mode 2775)")
                && m.ends_with(&format!("Run `chmod 700 {}`", ok.display())),
            "{m}"
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(message(&file).contains("not a directory"));
        // Other failures keep their own words.
        let other = StoreError::Unwritable {
            path: ok.clone(),
            source: std::io::Error::other("disk on fire"),
        };
        assert!(other.to_string().contains("disk on fire. Set CUTOVER_HOME"));
    }

    #[test]
    fn unknown_session_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_path_buf()).unwrap();
        let err = store.existing("nope").err().unwrap().to_string();
        assert!(err.contains("no session `nope`"), "{err}");
        assert!(store.existing("../x").is_err());
    }
}
