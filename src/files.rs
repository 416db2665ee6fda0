//! Files written so that a reader, or a crash at any moment, never sees half of one: a
//! temporary file beside the target, written, synced, renamed over it, and the directory
//! synced. The one place moveday writes a whole file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What the name of a temporary file of [`write_atomic`] starts with, after the target's
/// own name: `<name>.tmp-<pid>-<seq>`. One left behind by a killed writer can be found by
/// it and removed.
pub const TEMP_INFIX: &str = ".tmp-";

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `path` with `suffix` appended to its file name: `state.json` + `.lock`.
pub fn side_path(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes what was renamed into `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// How many symbolic links [`resolve_links`] follows before it gives up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Where `path` really is: `path` itself, or, when it is a symbolic link, what the link
/// points to, followed to the end (a relative target is taken from the link's directory).
/// The end need not exist: a dangling link names the file a write would create. Writing
/// to what this returns replaces the target and leaves the link a link.
pub fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = parent_dir(&current).join(target);
            }
            Ok(_) => return Ok(current),
            // Nothing there (or no directory to hold it): the writer's error will say so.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(current);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: more than {MAX_LINKS} symbolic links in a row",
        path.display()
    )))
}

/// Who may read a file that [`write_atomic`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The owner only (0600), whatever the umask: the checklist's record.
    Private,
    /// As `std::fs::write` makes a file: 0666 less the umask.
    Default,
}

/// Replaces `path` with what `write` writes, atomically and durably, readable as `access`
/// says. On error the temporary file is removed and `path` is as it was.
///
/// A symbolic link is written through: the temporary file is made in the target's
/// directory and renamed over the target, so the link stays a link (see
/// [`resolve_links`]).
pub fn write_atomic(
    path: &Path,
    access: Access,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let path = &resolve_links(path)?;
    let mode = match access {
        Access::Private => 0o600,
        Access::Default => 0o666,
    };
    let (temp_path, file) = create_temp(path, mode)?;
    let written = (|| {
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        if access == Access::Private {
            // Exactly 0600: never wider, whatever the file was created with.
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&temp_path, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp_path);
        return Err(e);
    }
    sync_dir(parent_dir(path))
}

fn create_temp(path: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    loop {
        let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let temp = side_path(path, &format!("{TEMP_INFIX}{pid}-{seq}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
        {
            Ok(file) => return Ok((temp, file)),
            // A leftover of an earlier process with our pid: the sequence moves on, so this
            // ends.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && seq < u64::MAX => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn replaces_the_file_whole_with_the_mode_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        fs::write(&path, "old").unwrap();
        write_atomic(&path, Access::Private, |out| out.write_all(b"new")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        fs::write(&path, "old").unwrap();
        let failed = write_atomic(&path, Access::Private, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn a_symlink_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        fs::create_dir(dir.path().join("links")).unwrap();
        let target = dir.path().join("real/f.json");
        fs::write(&target, "old").unwrap();
        let link = dir.path().join("links/f.json");
        let hop = dir.path().join("links/hop.json");
        std::os::unix::fs::symlink("../real/f.json", &hop).unwrap();
        std::os::unix::fs::symlink("hop.json", &link).unwrap();
        write_atomic(&link, Access::Private, |out| out.write_all(b"new")).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(fs::symlink_metadata(&hop).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(fs::read_dir(dir.path().join("real")).unwrap().count(), 1);
        assert_eq!(fs::read_dir(dir.path().join("links")).unwrap().count(), 2);
        // A dangling link: the write creates its target.
        fs::remove_file(&target).unwrap();
        write_atomic(&link, Access::Private, |out| out.write_all(b"again")).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "again");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // A loop is an error, not a hang.
        let a = dir.path().join("a");
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let err = write_atomic(&a, Access::Private, |out| out.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }
}
