//! The checklist's state file: where it lives, how it is read, merged and written, and the
//! task that keeps a running moveday in step with it.
//!
//! One JSON file per inventory holds a [`ChecklistDoc`]. Every change is a read-merge-write
//! under an exclusive `flock` on a side file `<file>.lock` (each write renames a new inode
//! over the data file, so the data file itself cannot carry the lock). The write is atomic:
//! a unique temporary file in the same directory, `fsync`, `rename` over the file, `fsync`
//! of the directory. A process killed at any moment leaves the old file or the new one,
//! never a torn one, and a change counts as saved only once [`commit`] returned.
//!
//! A file that cannot be read or parsed is never overwritten and never deleted: it is
//! renamed to `<file>.corrupt-<UTC timestamp>` and reported, and work goes on from an empty
//! record. Every rename, set-aside and clean-up happens under the exclusive lock.
//!
//! The state file is a regular file or a symbolic link to one (or to where one will be).
//! A link is followed: the lock, the temporary files and any set-aside live beside the
//! target, and the link stays a link. Anything else at the path (a FIFO, a device, a
//! directory, a socket) is refused with [`PersistError::NotRegular`]: never read (a FIFO
//! would block), never replaced, never moved.
//!
//! ```text
//! <state dir>/<stem>-<hash>.json        the record (mode 0600)
//! <state dir>/<stem>-<hash>.json.lock   the lock side file (never removed)
//! <state dir>/<stem>-<hash>.json.tmp-*  a write in progress (stale ones are removed)
//! <state dir>/<stem>-<hash>.json.corrupt-20261125T174501Z   a file set aside
//! ```

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{ChecklistDoc, ChecklistEvent, FORMAT_VERSION};
use crate::files::{self, parent_dir, side_path, sync_dir};

/// Longest `who` kept, in characters.
pub const MAX_WHO_CHARS: usize = 64;

/// How many extra polls the sync task spends retrying unsaved changes once its event
/// channel has closed (the app is quitting).
const FINAL_ATTEMPTS: u32 = 3;

/// A failure that leaves the state file as it was.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot create the state directory {}: {source}", .path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot lock {}: {source}", .path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("state file {} is corrupt ({reason}) and cannot be moved aside to {}: {source}", .path.display(), .to.display())]
    SetAside {
        path: PathBuf,
        to: PathBuf,
        reason: String,
        source: io::Error,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "state file {}{} is {kind}, not a regular file: not read, not replaced, not moved \
         (--state must name a regular file or a symbolic link to one)",
        .path.display(), via(.path, .target)
    )]
    NotRegular {
        path: PathBuf,
        /// Where the links at `path` lead (`path` itself when it is no link).
        target: PathBuf,
        kind: &'static str,
    },
    #[error("cannot follow the state file's link {}: {source}", .path.display())]
    Link { path: PathBuf, source: io::Error },
}

impl PersistError {
    /// Whether the path given is wrong (bad input, exit 2), rather than the disk failing.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            PersistError::NotRegular { .. } | PersistError::Link { .. }
        )
    }
}

/// ` (a symbolic link to X)` when `target` is not `path`.
fn via(path: &Path, target: &Path) -> String {
    if path == target {
        String::new()
    } else {
        format!(" (a symbolic link to {})", target.display())
    }
}

/// What a file that is not a regular file is, in words.
fn kind_of(file_type: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_dir() {
        "a directory"
    } else {
        "something else"
    }
}

/// Where the state file at `path` really is ([`files::resolve_links`]), refused unless it
/// is a regular file or does not exist yet.
fn locate(path: &Path) -> Result<PathBuf, PersistError> {
    let target = files::resolve_links(path).map_err(|source| PersistError::Link {
        path: path.to_path_buf(),
        source,
    })?;
    match fs::symlink_metadata(&target) {
        Ok(meta) if !meta.file_type().is_file() => Err(PersistError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
            target,
        }),
        _ => Ok(target),
    }
}

/// The record as read from (or, after [`commit`], written to) the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub doc: ChecklistDoc,
    /// Set when a corrupt file was moved aside: for the status bar.
    pub warning: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Where

/// The default state file of an inventory: `$XDG_STATE_HOME/moveday/` (else
/// `~/.local/state/moveday/`), named after the inventory's canonical path, so two
/// inventories never share a record and one inventory always finds its own, from any
/// working directory. Pure: the directory is created (mode 0700) by the first load or
/// commit.
pub fn default_state_path(inventory_path: &Path) -> PathBuf {
    let canonical = fs::canonicalize(inventory_path)
        .or_else(|_| std::path::absolute(inventory_path))
        .unwrap_or_else(|_| inventory_path.to_path_buf());
    let stem: String = inventory_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let stem = if stem.is_empty() {
        "inventory".to_string()
    } else {
        stem
    };
    let hash = fnv1a64(canonical.as_os_str().as_bytes());
    state_dir(&canonical).join(format!("{stem}-{hash:016x}.json"))
}

/// `$XDG_STATE_HOME/moveday`, else `~/.local/state/moveday`, else (no home at all) a
/// `.moveday` directory beside the inventory.
fn state_dir(canonical_inventory: &Path) -> PathBuf {
    // The XDG spec says a relative value is invalid and must be ignored.
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return dir.join("moveday");
    }
    match std::env::home_dir().filter(|h| h.is_absolute()) {
        Some(home) => home.join(".local/state/moveday"),
        None => canonical_inventory
            .parent()
            .unwrap_or(Path::new("."))
            .join(".moveday"),
    }
}

/// 64-bit FNV-1a: fixed by its definition, so a file name computed today is found again
/// by any later build (`DefaultHasher` promises no such thing).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Creates the state file's directory (owner only) when it is missing.
fn ensure_dir(path: &Path) -> Result<(), PersistError> {
    let dir = parent_dir(path);
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PersistError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

// ---------------------------------------------------------------------------------------
// Who

/// `$USER@hostname` (short host name), for ticks made without `--who`.
pub fn default_who() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|u| u.trim().to_string())
        .find(|u| !u.is_empty())
        .unwrap_or_else(|| "someone".to_string());
    let host = hostname().unwrap_or_else(|| "localhost".to_string());
    let short = host.split('.').next().unwrap_or(&host);
    clean_who(&format!("{user}@{short}")).unwrap_or_else(|| "someone@localhost".to_string())
}

/// A name fit for the record and the terminal: trimmed, control characters made visible,
/// at most [`MAX_WHO_CHARS`]; `None` when nothing is left.
pub fn clean_who(name: &str) -> Option<String> {
    let cleaned = crate::sanitize::sanitize(name.trim(), MAX_WHO_CHARS);
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_string())
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call; on success
    // the name is NUL-terminated within it (POSIX may truncate without a NUL, which the
    // search below handles by taking the whole buffer).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let from_libc = (rc == 0).then(|| {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).trim().to_string()
    });
    from_libc
        .filter(|h| !h.is_empty())
        .or_else(|| {
            fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
}

// ---------------------------------------------------------------------------------------
// Reading

/// What the state file holds.
enum OnDisk {
    Missing,
    Doc(ChecklistDoc),
    /// Unreadable or unparseable, with the reason.
    Corrupt(String),
    /// Not a regular file (it became one after [`locate`] looked): what it is.
    NotRegular(&'static str),
}

/// Reads the file at `path` (as [`locate`] found it). Opened without blocking and checked
/// with `fstat` before a byte is read, so a FIFO or a device put there meanwhile is
/// refused rather than waited on.
fn read_state(path: &Path) -> OnDisk {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return OnDisk::Missing,
        Err(e) => return OnDisk::Corrupt(format!("unreadable: {e}")),
    };
    let meta = match file.metadata() {
        Ok(meta) if meta.file_type().is_file() => meta,
        Ok(meta) => return OnDisk::NotRegular(kind_of(meta.file_type())),
        Err(e) => return OnDisk::Corrupt(format!("unreadable: {e}")),
    };
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    match io::Read::read_to_end(&mut &file, &mut bytes) {
        Ok(_) => match parse(&bytes) {
            Ok(doc) => OnDisk::Doc(doc),
            Err(reason) => OnDisk::Corrupt(reason),
        },
        Err(e) => OnDisk::Corrupt(format!("unreadable: {e}")),
    }
}

/// [`OnDisk::NotRegular`] as an error naming the path.
fn not_regular(path: &Path, kind: &'static str) -> PersistError {
    PersistError::NotRegular {
        path: path.to_path_buf(),
        target: path.to_path_buf(),
        kind,
    }
}

/// Reads the record at `path` for a reader that only looks (`moveday report`): no lock,
/// nothing created or moved. `Ok(None)` when there is no file; `Err` says why it cannot
/// be read (not a regular file, unreadable, not a record).
pub fn peek(path: &Path) -> Result<Option<ChecklistDoc>, String> {
    let target = locate(path).map_err(|e| e.to_string())?;
    match read_state(&target) {
        OnDisk::Missing => Ok(None),
        OnDisk::Doc(doc) => Ok(Some(doc)),
        OnDisk::Corrupt(reason) => Err(reason),
        OnDisk::NotRegular(kind) => Err(not_regular(path, kind).to_string()),
    }
}

/// The top of a state file: its format version, the rest skipped unread.
#[derive(serde::Deserialize)]
struct Head {
    version: Option<serde_json::Value>,
}

/// Parses the file's bytes, checking the format version before the fields so that a file
/// from another version says so rather than "unknown field". Straight into the record:
/// never through a `serde_json::Value`, which costs ten times the file's size.
fn parse(bytes: &[u8]) -> Result<ChecklistDoc, String> {
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err("empty file".to_string());
    };
    let head: Head = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    // A struct also reads from an array: say what it is.
    if *first != b'{' {
        return Err("not a JSON object".to_string());
    }
    match head.version.as_ref().map(|v| (v, v.as_u64())) {
        None => return Err("no format version".to_string()),
        Some((_, Some(v))) if v == u64::from(FORMAT_VERSION) => {}
        Some((v, _)) => {
            return Err(format!(
                "format version {v}, this moveday reads version {FORMAT_VERSION}"
            ));
        }
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// Moves a corrupt file to `<file>.corrupt-<UTC timestamp>`, never replacing an earlier
/// one. The caller holds the exclusive lock, so checking for a free name then renaming
/// cannot race another moveday.
fn set_aside(path: &Path, reason: &str) -> Result<PathBuf, PersistError> {
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut to = side_path(path, &format!(".corrupt-{stamp}"));
    let mut n = 1;
    while fs::symlink_metadata(&to).is_ok() {
        n += 1;
        to = side_path(path, &format!(".corrupt-{stamp}-{n}"));
    }
    let fail = |to: &Path, source| PersistError::SetAside {
        path: path.to_path_buf(),
        to: to.to_path_buf(),
        reason: reason.to_string(),
        source,
    };
    fs::rename(path, &to).map_err(|e| fail(&to, e))?;
    sync_dir(parent_dir(path)).map_err(|e| fail(&to, e))?;
    Ok(to)
}

/// Reads the file, setting it aside when corrupt. The caller holds the exclusive lock.
fn read_or_set_aside(path: &Path) -> Result<Loaded, PersistError> {
    match read_state(path) {
        OnDisk::Missing => Ok(Loaded {
            doc: ChecklistDoc::new(),
            warning: None,
        }),
        OnDisk::Doc(doc) => Ok(Loaded { doc, warning: None }),
        OnDisk::NotRegular(kind) => Err(not_regular(path, kind)),
        OnDisk::Corrupt(reason) => {
            let to = set_aside(path, &reason)?;
            Ok(Loaded {
                doc: ChecklistDoc::new(),
                warning: Some(format!(
                    "state file {} was corrupt ({reason}); moved to {}; starting empty",
                    path.display(),
                    to.display()
                )),
            })
        }
    }
}

/// Reads the state file: a missing file is an empty record (and nothing is created); a
/// corrupt one is moved aside
/// (see [`Loaded::warning`]) and the record starts empty. `Err` only when the directory,
/// the lock or the set-aside fails.
pub fn load(path: &Path) -> Result<Loaded, PersistError> {
    load_stamped(path).map(|(loaded, _)| loaded)
}

fn load_stamped(path: &Path) -> Result<(Loaded, Option<Stamp>), PersistError> {
    let path = &locate(path)?;
    // Reading a record that does not exist yet creates nothing (no directory, no lock file);
    // a writer creating it right after is no different from one writing a moment later.
    if let Err(e) = fs::symlink_metadata(path)
        && e.kind() == io::ErrorKind::NotFound
    {
        let doc = ChecklistDoc::new();
        return Ok((Loaded { doc, warning: None }, None));
    }
    ensure_dir(path)?;
    {
        let _lock = FileLock::shared(path)?;
        let stamp = Stamp::of(path);
        match read_state(path) {
            OnDisk::Missing => {
                let doc = ChecklistDoc::new();
                return Ok((Loaded { doc, warning: None }, stamp));
            }
            OnDisk::Doc(doc) => return Ok((Loaded { doc, warning: None }, stamp)),
            OnDisk::NotRegular(kind) => return Err(not_regular(path, kind)),
            // Set aside under the exclusive lock (a shared lock cannot be upgraded in
            // place); the file is read again there, as a writer may have replaced it.
            OnDisk::Corrupt(_) => {}
        }
    }
    let _lock = FileLock::exclusive(path)?;
    let loaded = read_or_set_aside(path)?;
    Ok((loaded, Stamp::of(path)))
}

// ---------------------------------------------------------------------------------------
// Writing

/// Records `events` in the state file: lock, read (a corrupt file is set aside, see
/// [`Loaded::warning`]), merge, write atomically, unlock. Returns the record now on disk.
/// An event is saved, and may be acknowledged to the operator, only when this returns `Ok`.
pub fn commit(path: &Path, events: &[ChecklistEvent]) -> Result<Loaded, PersistError> {
    commit_with(path, |_| events.to_vec()).map(|(loaded, _)| loaded)
}

/// As [`commit`], with the events made from the record on disk, read under the lock: what
/// `moveday tick` needs to stamp its event after the record it replaces (see
/// [`super::stamp`]), whatever another process wrote a moment before. Returns the record
/// now on disk and the events made.
pub fn commit_with(
    path: &Path,
    make: impl FnOnce(&ChecklistDoc) -> Vec<ChecklistEvent>,
) -> Result<(Loaded, Vec<ChecklistEvent>), PersistError> {
    let mut events = Vec::new();
    let (loaded, _) = commit_stamped(path, |disk| {
        events = make(disk);
        let mut changed = false;
        for event in &events {
            changed |= disk.apply(event);
        }
        (changed, !events.is_empty())
    })?;
    Ok((loaded, events))
}

/// Saves `ours`, everything the sync task knows, in the state file. When the file is still
/// as the task last saw it (`seen`, its stamp taken under the lock), `ours` already holds
/// all of it and is written as it is: `None`, no second copy of a large record read back.
/// Otherwise another process wrote in between, and `ours` is merged into the file's record,
/// which is returned.
fn commit_known(
    path: &Path,
    ours: &ChecklistDoc,
    seen: Option<Stamp>,
) -> Result<(Option<Loaded>, Option<Stamp>), PersistError> {
    let path = &locate(path)?;
    ensure_dir(path)?;
    let _lock = FileLock::exclusive(path)?;
    remove_stale_temps(path);
    if seen.is_some() && Stamp::of(path) == seen {
        write_atomic(path, ours)?;
        return Ok((None, Stamp::of(path)));
    }
    let merge = |disk: &mut ChecklistDoc| (disk.merge_from(ours), !ours.items.is_empty());
    commit_locked(path, merge).map(|(loaded, stamp)| (Some(loaded), stamp))
}

/// Merges into the record on disk, in place (`merge` returns whether it changed the record
/// and whether it had anything to add at all), and writes it if it changed. Also returns
/// the file's stamp taken under the lock, so the sync task does not mistake its own write
/// for another process's.
fn commit_stamped(
    path: &Path,
    merge: impl FnOnce(&mut ChecklistDoc) -> (bool, bool),
) -> Result<(Loaded, Option<Stamp>), PersistError> {
    let path = &locate(path)?;
    ensure_dir(path)?;
    let _lock = FileLock::exclusive(path)?;
    remove_stale_temps(path);
    commit_locked(path, merge)
}

/// [`commit_stamped`] once the exclusive lock is held.
fn commit_locked(
    path: &Path,
    merge: impl FnOnce(&mut ChecklistDoc) -> (bool, bool),
) -> Result<(Loaded, Option<Stamp>), PersistError> {
    let Loaded {
        doc: mut merged,
        warning,
    } = read_or_set_aside(path)?;
    let (changed, anything) = merge(&mut merged);
    if changed {
        merged.version = FORMAT_VERSION;
        write_atomic(path, &merged)?;
    } else if anything {
        // Nothing new (a retry, or someone else already recorded the same): make sure what
        // we are about to acknowledge is durable, whoever wrote it.
        sync_existing(path).map_err(|source| PersistError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let stamp = Stamp::of(path);
    Ok((
        Loaded {
            doc: merged,
            warning,
        },
        stamp,
    ))
}

fn sync_existing(path: &Path) -> io::Result<()> {
    match File::open(path) {
        Ok(f) => f.sync_all()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    sync_dir(parent_dir(path))
}

/// Temporary files left by a process killed mid-write. Temporary files are only made under
/// the exclusive lock, which the caller holds: any that exist now are stale.
fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name() else {
        return;
    };
    let mut prefix = name.to_os_string();
    prefix.push(files::TEMP_INFIX);
    let prefix = prefix.as_bytes();
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().as_bytes().starts_with(prefix) {
            // Best effort: a leftover costs disk space, not correctness.
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes the record through [`files::write_atomic`], readable by its owner only.
fn write_atomic(path: &Path, doc: &ChecklistDoc) -> Result<(), PersistError> {
    files::write_atomic(path, files::Access::Private, |out| {
        serde_json::to_writer_pretty(&mut *out, doc).map_err(io::Error::from)?;
        out.write_all(b"\n")
    })
    .map_err(|source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    })
}

// ---------------------------------------------------------------------------------------
// Locking and change detection

/// An advisory `flock` on `<file>.lock`, released when dropped (or when the process dies,
/// however it dies).
struct FileLock {
    _file: File,
}

impl FileLock {
    fn open(path: &Path) -> Result<(PathBuf, File), PersistError> {
        let lock_path = side_path(path, ".lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| PersistError::Lock {
                path: lock_path.clone(),
                source,
            })?;
        Ok((lock_path, file))
    }

    fn exclusive(path: &Path) -> Result<FileLock, PersistError> {
        let (lock_path, file) = FileLock::open(path)?;
        file.lock().map_err(|source| PersistError::Lock {
            path: lock_path,
            source,
        })?;
        Ok(FileLock { _file: file })
    }

    fn shared(path: &Path) -> Result<FileLock, PersistError> {
        let (lock_path, file) = FileLock::open(path)?;
        file.lock_shared().map_err(|source| PersistError::Lock {
            path: lock_path,
            source,
        })?;
        Ok(FileLock { _file: file })
    }
}

/// What a `stat` says about the file: any write (a rename brings a new inode) changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    /// `None` when the file is missing (or cannot be stat'ed).
    fn of(path: &Path) -> Option<Stamp> {
        fs::metadata(path).ok().map(|m| Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The sync task

/// What the sync task tells the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncNews {
    /// The record as merged with the state file: ours and other processes' ticks. After a
    /// commit it is the acknowledgement that our events are on disk.
    Record(Arc<ChecklistDoc>),
    /// Something the operator must see: a file set aside, a write that failed.
    Warning(String),
}

/// Keeps a running moveday and its state file in step.
///
/// On start it loads the file and sends [`SyncNews::Record`] (and a
/// [`SyncNews::Warning`] if the file was set aside). Each batch of `events` is committed at
/// once, together with everything this task has seen so far (merge is idempotent, so a
/// file that was deleted or set aside gets every known tick back), and the merged record is
/// sent: that report is the acknowledgement. A failed commit sends a warning naming the
/// file and keeps the events to retry at the next poll. Every `poll` the file is `stat`ed
/// (nothing else when idle) and, when another process changed it, read and sent.
///
/// When `events` closes (the app quits), unsaved events are retried for a few more polls;
/// await the handle before exiting so that every tick is on disk. It yields the events
/// that could not be saved (none when all are on disk), for the operator to be told.
pub fn spawn_sync<T: From<SyncNews> + Send + 'static>(
    path: PathBuf,
    events: mpsc::Receiver<ChecklistEvent>,
    reports: mpsc::Sender<T>,
    poll: Duration,
) -> JoinHandle<Vec<ChecklistEvent>> {
    tokio::spawn(async move {
        let mut sync = SyncTask {
            path,
            reports,
            known: Arc::new(ChecklistDoc::new()),
            pending: Vec::new(),
            seen: None,
            failing: false,
        };
        sync.run(events, poll).await;
        sync.pending
    })
}

struct SyncTask<T> {
    path: PathBuf,
    reports: mpsc::Sender<T>,
    /// Everything read from or written to the file so far. Shared with the dashboard for
    /// the moment it takes to merge a report, never copied while it is not.
    known: Arc<ChecklistDoc>,
    /// Events not yet saved.
    pending: Vec<ChecklistEvent>,
    /// The file as last read or written by us.
    seen: Option<Stamp>,
    /// The last commit failed (so a success is worth a word).
    failing: bool,
}

impl<T: From<SyncNews> + Send + 'static> SyncTask<T> {
    async fn run(&mut self, mut events: mpsc::Receiver<ChecklistEvent>, poll: Duration) {
        self.refresh(true).await;
        let mut ticker = tokio::time::interval(poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => {
                        self.pending.push(event);
                        while let Ok(event) = events.try_recv() {
                            self.pending.push(event);
                        }
                        self.flush().await;
                    }
                    None => break,
                },
                _ = ticker.tick() => {
                    if self.pending.is_empty() {
                        self.refresh(false).await;
                    } else {
                        self.flush().await;
                    }
                }
            }
            if self.reports.is_closed() {
                break;
            }
        }
        // Quitting: a last chance for changes that could not be written yet.
        for _ in 0..FINAL_ATTEMPTS {
            if self.pending.is_empty() {
                return;
            }
            ticker.tick().await;
            self.flush().await;
        }
        if !self.pending.is_empty() {
            let n = self.pending.len();
            self.report(SyncNews::Warning(format!(
                "{n} checklist change(s) could not be written to {} and are lost",
                self.path.display()
            )))
            .await;
        }
    }

    async fn report(&self, news: SyncNews) {
        // The app may be gone; the file is what matters then.
        let _ = self.reports.send(news.into()).await;
    }

    /// Reads the file if it changed since we last saw it (always, the first time).
    async fn refresh(&mut self, first: bool) {
        if !first && Stamp::of(&self.path) == self.seen {
            return;
        }
        let path = self.path.clone();
        match tokio::task::spawn_blocking(move || load_stamped(&path)).await {
            Ok(Ok((loaded, stamp))) => {
                self.seen = stamp;
                if let Some(w) = loaded.warning {
                    self.report(SyncNews::Warning(w)).await;
                }
                let changed = if self.known.items.is_empty() {
                    // The first read (or the file was all we knew): take it, not a copy.
                    let changed = !loaded.doc.items.is_empty();
                    self.known = Arc::new(loaded.doc);
                    changed
                } else {
                    Arc::make_mut(&mut self.known).merge_from(&loaded.doc)
                };
                if first || changed {
                    self.report(SyncNews::Record(Arc::clone(&self.known))).await;
                }
            }
            Ok(Err(e)) => self.report(SyncNews::Warning(e.to_string())).await,
            Err(e) => {
                self.report(SyncNews::Warning(format!(
                    "reading {} failed: {e}",
                    self.path.display()
                )))
                .await;
            }
        }
    }

    /// Commits the pending events (with everything known); keeps them on failure. The
    /// record is moved to the writer and back, never copied.
    async fn flush(&mut self) {
        let mut ours = std::mem::take(&mut self.known);
        let doc = Arc::make_mut(&mut ours);
        for event in &self.pending {
            doc.apply(event);
        }
        let (path, seen) = (self.path.clone(), self.seen);
        let result = tokio::task::spawn_blocking(move || {
            let result = commit_known(&path, &ours, seen);
            (ours, result)
        })
        .await;
        let error = match result {
            Ok((ours, Ok((merged, stamp)))) => {
                let saved = self.pending.len();
                self.pending.clear();
                self.seen = stamp;
                self.known = match merged {
                    None => ours,
                    Some(loaded) => {
                        // The record on disk has it all now: one copy is enough.
                        drop(ours);
                        if let Some(w) = loaded.warning {
                            self.report(SyncNews::Warning(w)).await;
                        }
                        Arc::new(loaded.doc)
                    }
                };
                if self.failing {
                    self.failing = false;
                    self.report(SyncNews::Warning(format!(
                        "checklist saved to {} again ({saved} pending change(s) written)",
                        self.path.display()
                    )))
                    .await;
                }
                self.report(SyncNews::Record(Arc::clone(&self.known))).await;
                return;
            }
            Ok((ours, Err(e))) => {
                // What we know, the pending events in it (applying them again is harmless).
                self.known = ours;
                e.to_string()
            }
            // The record went down with the writer: the next read brings the file's back.
            Err(e) => format!("writing {} failed: {e}", self.path.display()),
        };
        self.failing = true;
        self.report(SyncNews::Warning(format!(
            "checklist NOT saved ({} change(s) waiting, retrying): {error}",
            self.pending.len()
        )))
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        // From the FNV reference test suite: a changed constant would re-key every file.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn default_state_path_is_keyed_by_the_inventory() {
        let a = default_state_path(Path::new("/srv/moves/dc-move.toml"));
        let b = default_state_path(Path::new("/srv/other/dc-move.toml"));
        assert_ne!(a, b);
        assert_eq!(a, default_state_path(Path::new("/srv/moves/dc-move.toml")));
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("dc-move-") && name.ends_with(".json"),
            "{name}"
        );
        assert_eq!(name.len(), "dc-move-".len() + 16 + ".json".len(), "{name}");
        assert!(a.parent().unwrap().ends_with("moveday"), "{}", a.display());
    }

    #[test]
    fn parse_says_why_a_file_is_rejected() {
        let cases: [(&[u8], &str); 6] = [
            (b"", "empty file"),
            (b"\x00\x01garbage", "not JSON"),
            (b"{\"version\": 1, \"items\": {", "not JSON"),
            (b"[1]", "not a JSON object"),
            (b"{\"items\": {}}", "no format version"),
            (
                b"{\"version\": 7, \"items\": {}}",
                "format version 7, this moveday reads version 1",
            ),
        ];
        for (bytes, why) in cases {
            let err = parse(bytes).unwrap_err();
            assert!(
                err.contains(why),
                "{:?}: {err}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(parse(b"{\"version\": 1}").unwrap(), ChecklistDoc::new());
    }

    #[test]
    fn who_is_cleaned() {
        assert_eq!(clean_who("  alice@box \n").as_deref(), Some("alice@box"));
        assert_eq!(clean_who("a\x1b[2Jb").as_deref(), Some("a\\x1b[2Jb"));
        assert_eq!(clean_who(" \t "), None);
        assert!(clean_who(&"x".repeat(500)).unwrap().chars().count() <= MAX_WHO_CHARS + 1);
        let who = default_who();
        assert!(
            who.contains('@') && !who.chars().any(char::is_control),
            "{who}"
        );
    }
}
