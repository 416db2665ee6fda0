//! The hosts file (`/etc/hosts`): the post-mortem's trap, an old address pinned on the
//! operator's own machine that makes a moved server look dead.
//!
//! The file is looked at every round because the admin fixes it in the middle of the move.
//! [`HostsFileCache`] makes that cheap for thousands of hosts: the file's directory is
//! watched, so a round costs no system call until the file is touched; then one `stat`, and
//! a re-parse only when the file changed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::io::AsyncReadExt;

use super::{HostsEntry, HostsFileOutcome};
use crate::sanitize::sanitize;

/// Larger files are not read. Generous on purpose: ad-blocking hosts files run to a few MiB,
/// and a truncated read could miss the very line the operator is looking for.
pub const MAX_HOSTS_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// A file modified more recently than this is not cached (see [`Stamp::settled`]).
const SETTLE_TIME: std::time::Duration = std::time::Duration::from_secs(3);

/// One address line of a hosts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsLine {
    pub ip: IpAddr,
    /// Canonical name and aliases, lowercased, without a trailing dot.
    pub names: Vec<String>,
    /// 1-based line number.
    pub line: usize,
}

/// A parsed hosts file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostsFile {
    /// Address lines in file order.
    pub lines: Vec<HostsLine>,
    /// Name to indices into `lines`, in file order: 500 hosts look up in one parse.
    index: HashMap<String, Vec<usize>>,
}

/// Parses hosts-file text the way glibc's `files` backend reads it: `#` starts a comment,
/// fields are separated by blanks, the first field is an address (IPv4 or IPv6, an IPv6
/// zone `%eth0` is ignored) and the rest are names. Lines with a bad address are skipped,
/// as the resolver skips them.
pub fn parse(text: &str) -> HostsFile {
    let mut file = HostsFile::default();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.split('#').next().unwrap_or("");
        let mut fields = content.split_ascii_whitespace();
        let Some(addr) = fields.next() else { continue };
        let addr = addr.split('%').next().unwrap_or(addr);
        let Ok(ip) = addr.parse::<IpAddr>() else {
            continue;
        };
        let names: Vec<String> = fields.map(normalize).filter(|n| !n.is_empty()).collect();
        if names.is_empty() {
            continue;
        }
        let at = file.lines.len();
        for name in &names {
            let slots = file.index.entry(name.clone()).or_default();
            // A name twice on one line must not give the line twice.
            if slots.last() != Some(&at) {
                slots.push(at);
            }
        }
        file.lines.push(HostsLine {
            ip,
            names,
            line: i + 1,
        });
    }
    file
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl HostsFile {
    /// Every line naming `fqdn` or `short_name`, in file order (each line once).
    ///
    /// The short name counts because the operator types `ssh vbox`, not the fqdn: an old
    /// address under the short name is the same trap.
    pub fn entries_for(&self, fqdn: &str, short_name: Option<&str>) -> Vec<HostsEntry> {
        let mut hits: Vec<usize> = self.indices(fqdn).to_vec();
        if let Some(short) = short_name {
            hits.extend_from_slice(self.indices(short));
        }
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter()
            .filter_map(|i| self.lines.get(i))
            .map(|l| HostsEntry {
                ip: l.ip,
                line: l.line,
            })
            .collect()
    }

    /// The address the operating system would use for `fqdn` ("files" before "dns" in
    /// nsswitch): the first line that names it. Short names do not count here, since a
    /// lookup of the fqdn never matches them.
    pub fn resolve(&self, fqdn: &str) -> Option<HostsEntry> {
        let i = *self.indices(fqdn).first()?;
        self.lines.get(i).map(|l| HostsEntry {
            ip: l.ip,
            line: l.line,
        })
    }

    fn indices(&self, name: &str) -> &[usize] {
        self.index
            .get(&normalize(name))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Reads and parses a hosts file asynchronously (so a slow NFS home does not block a worker
/// thread). The error is a sanitized sentence for the operator.
pub async fn read(path: &Path) -> Result<HostsFile, String> {
    let shown = || sanitize(&path.display().to_string(), 200);
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot open {}: {}", shown(), sanitize(&e.to_string(), 120)))?;
    let mut bytes = Vec::new();
    file.take(MAX_HOSTS_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("cannot read {}: {}", shown(), sanitize(&e.to_string(), 120)))?;
    if bytes.len() as u64 > MAX_HOSTS_FILE_BYTES {
        return Err(format!(
            "{} is larger than {} MiB; not read",
            shown(),
            MAX_HOSTS_FILE_BYTES / (1024 * 1024)
        ));
    }
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

/// The hosts-file probe of one host: which lines name its fqdn or short name.
pub async fn lookup(path: &Path, fqdn: &str, short_name: Option<&str>) -> HostsFileOutcome {
    HostsFileOutcome {
        result: read(path).await.map(|f| f.entries_for(fqdn, short_name)),
    }
}

/// What identifies one version of the file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl Stamp {
    /// Whether the file was last modified long enough ago that a further edit must show in
    /// its mtime. On file systems with coarse timestamps (FAT, some NFS: whole seconds) a
    /// same-size edit within the same tick would otherwise go unseen forever; a fresh file
    /// is simply read again next time (git's "racily clean" rule).
    fn settled(&self) -> bool {
        self.modified
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age >= SETTLE_TIME)
    }

    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            dev_ino: (meta.dev(), meta.ino()),
        }
    }
}

/// A shared, change-checked view of the hosts files of an inventory.
///
/// Each file's directory is watched (inotify): while nothing happened to
/// the file, a load costs a lock and nothing else, for any number of hosts, and an edit is
/// seen by the next load after it, however soon. When something did happen, or when the
/// directory cannot be watched (no inotify left, no directory yet), the file is `stat`ed and
/// re-read if its size, mtime or inode changed (editors that save by rename change the
/// inode; `>>` changes the size), and always while it was modified only seconds ago. Errors
/// are not cached: an unreadable file is retried next time.
#[derive(Debug, Default)]
pub struct HostsFileCache {
    files: Mutex<HashMap<PathBuf, Cached>>,
    /// How many times a file was `stat`ed (what the watch saves; for tests and benches).
    stats: AtomicUsize,
}

#[derive(Debug)]
struct Cached {
    stamp: Stamp,
    file: Arc<HostsFile>,
    /// `None` when the directory could not be watched: then every load stats the file.
    watch: Option<Watch>,
}

/// A watch on the directories of one hosts file (and of its target, when it is a link):
/// inotify, read by a task of the runtime, for the events that change a file (not opens
/// and reads: every program started on the machine opens files in /etc).
struct Watch {
    /// Set on any event naming the file, or a lost one; cleared by the load that looks at
    /// the file again.
    touched: Arc<AtomicBool>,
    /// The watch ended (its directory went, events could not be read): stat every time.
    broken: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Watch(touched: {}, broken: {})",
            self.touched.load(Ordering::Relaxed),
            self.broken.load(Ordering::Relaxed)
        )
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watch {
    /// Watches the directory of `path`, and of where it leads if it is a link; `None` when
    /// that cannot be done (the caller then stats every time). Inside a Tokio runtime.
    #[cfg(target_os = "linux")]
    fn start(path: &Path) -> Option<Watch> {
        use futures::StreamExt as _;
        use inotify::{EventMask, Inotify, WatchMask};
        let mut files = vec![path.to_path_buf()];
        if let Ok(real) = std::fs::canonicalize(path)
            && real != path
        {
            files.push(real);
        }
        let inotify = Inotify::init().ok()?;
        let mask = WatchMask::MODIFY
            | WatchMask::CLOSE_WRITE
            | WatchMask::ATTRIB
            | WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF;
        for file in &files {
            let dir = file.parent().filter(|d| !d.as_os_str().is_empty())?;
            inotify.watches().add(dir, mask).ok()?;
        }
        let names: Vec<std::ffi::OsString> = files
            .iter()
            .filter_map(|p| p.file_name().map(ToOwned::to_owned))
            .collect();
        let mut events = inotify.into_event_stream([0u8; 4096]).ok()?;
        let (touched, broken) = (
            Arc::new(AtomicBool::new(true)),
            Arc::new(AtomicBool::new(false)),
        );
        let (flag, ended) = (touched.clone(), broken.clone());
        let task = tokio::spawn(async move {
            while let Some(Ok(event)) = events.next().await {
                if event
                    .mask
                    .intersects(EventMask::IGNORED | EventMask::DELETE_SELF | EventMask::MOVE_SELF)
                {
                    break;
                }
                let ours = event.mask.contains(EventMask::Q_OVERFLOW)
                    || event.name.as_ref().is_some_and(|n| names.contains(n));
                if ours {
                    flag.store(true, Ordering::Release);
                }
            }
            ended.store(true, Ordering::Release);
        });
        Some(Watch {
            touched,
            broken,
            task,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn start(_path: &Path) -> Option<Watch> {
        None
    }

    /// Whether the file may have changed since the last call (which clears it).
    fn take_touched(&self) -> bool {
        self.touched.swap(false, Ordering::AcqRel) || self.broken.load(Ordering::Acquire)
    }
}

impl HostsFileCache {
    pub fn new() -> HostsFileCache {
        HostsFileCache::default()
    }

    /// The current content of the file at `path`.
    pub async fn load(&self, path: &Path) -> Result<Arc<HostsFile>, String> {
        if let Some(file) = self.untouched(path) {
            return Ok(file);
        }
        self.stats.fetch_add(1, Ordering::Relaxed);
        let stamp = match tokio::fs::metadata(path).await {
            Ok(meta) => Some(Stamp::of(&meta)),
            Err(_) => None, // `read` below words the error.
        };
        if let Some(file) = stamp.and_then(|stamp| self.cached(path, stamp)) {
            return Ok(file);
        }
        // Stat before read: if the file changes in between, the stamp is the older one and
        // the next load reads again, never the other way round.
        let file = Arc::new(read(path).await?);
        match stamp.filter(Stamp::settled) {
            Some(stamp) => self.keep(path, stamp, file.clone()),
            // Modified a moment ago: looked at again next time, whatever the watch says.
            None => self.touch(path),
        }
        Ok(file)
    }

    fn touch(&self, path: &Path) {
        if let Ok(files) = self.files.lock()
            && let Some(watch) = files.get(path).and_then(|c| c.watch.as_ref())
        {
            watch.touched.store(true, Ordering::Release);
        }
    }

    /// How many times a file was `stat`ed so far.
    pub fn stats(&self) -> usize {
        self.stats.load(Ordering::Relaxed)
    }

    /// The cached file, when its directory is watched and nothing has happened to it since
    /// the last look (no system call at all).
    fn untouched(&self, path: &Path) -> Option<Arc<HostsFile>> {
        let files = self.files.lock().ok()?;
        let cached = files.get(path)?;
        match &cached.watch {
            Some(watch) if !watch.take_touched() => Some(cached.file.clone()),
            _ => None,
        }
    }

    fn cached(&self, path: &Path, stamp: Stamp) -> Option<Arc<HostsFile>> {
        let files = self.files.lock().ok()?;
        match files.get(path) {
            Some(cached) if cached.stamp == stamp => Some(cached.file.clone()),
            _ => None,
        }
    }

    /// Caches a settled version of the file, watching its directory from the first time on.
    fn keep(&self, path: &Path, stamp: Stamp, file: Arc<HostsFile>) {
        let Ok(mut files) = self.files.lock() else {
            return;
        };
        let watch = match files.remove(path) {
            Some(old) => old.watch,
            None => Watch::start(path),
        };
        files.insert(path.to_path_buf(), Cached { stamp, file, watch });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const TEXT: &str = "\
# a comment line
127.0.0.1\tlocalhost
   
10.0.0.5 vbox.example.org vbox   # old address, left over
10.0.0.5 VBOX.Example.ORG.
not-an-ip drawable.example.org
2001:db8::13 drawable.example.org drawable
fe80::1%eth0 linklocal.example.org
192.0.2.13 drawable.example.org
#192.0.2.99 vbox.example.org
10.1.1.1
";

    #[test]
    fn parses_comments_blank_lines_ipv6_and_aliases() {
        let f = parse(TEXT);
        let lines: Vec<(String, usize)> =
            f.lines.iter().map(|l| (l.ip.to_string(), l.line)).collect();
        assert_eq!(
            lines,
            vec![
                ("127.0.0.1".to_string(), 2),
                ("10.0.0.5".to_string(), 4),
                ("10.0.0.5".to_string(), 5),
                ("2001:db8::13".to_string(), 7),
                ("fe80::1".to_string(), 8),
                ("192.0.2.13".to_string(), 9),
            ]
        );
        assert_eq!(f.lines[1].names, vec!["vbox.example.org", "vbox"]);
        assert_eq!(f.lines[2].names, vec!["vbox.example.org"]);
    }

    #[test]
    fn matches_case_insensitively_with_trailing_dot_and_short_name() {
        let f = parse(TEXT);
        let ips = |v: Vec<HostsEntry>| {
            v.into_iter()
                .map(|e| (e.ip.to_string(), e.line))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ips(f.entries_for("VBox.example.org.", None)),
            vec![("10.0.0.5".into(), 4), ("10.0.0.5".into(), 5)]
        );
        assert_eq!(
            ips(f.entries_for("drawable.example.org", Some("drawable"))),
            vec![("2001:db8::13".into(), 7), ("192.0.2.13".into(), 9)]
        );
        assert_eq!(
            ips(f.entries_for("nothere.example.org", Some("nothere"))),
            vec![]
        );
        // A short-name-only entry shows in the probe but is not what the OS uses for the fqdn.
        let f = parse("10.9.9.9 vbox\n");
        assert_eq!(f.entries_for("vbox.example.org", Some("vbox")).len(), 1);
        assert_eq!(f.resolve("vbox.example.org"), None);
    }

    #[test]
    fn resolve_takes_the_first_line_like_the_os() {
        let f = parse(TEXT);
        let e = f.resolve("drawable.example.org").unwrap();
        assert_eq!((e.ip.to_string(), e.line), ("2001:db8::13".to_string(), 7));
        assert_eq!(
            f.resolve("linklocal.example.org").unwrap().ip.to_string(),
            "fe80::1"
        );
    }

    #[test]
    fn empty_and_odd_input() {
        assert!(parse("").lines.is_empty());
        assert!(parse("\n\n# only\n").lines.is_empty());
        let f = parse("10.0.0.1 a a.example.org a\r\n");
        assert_eq!(f.entries_for("a", None).len(), 1);
        assert_eq!(f.lines[0].names, vec!["a", "a.example.org", "a"]);
    }

    #[tokio::test]
    async fn lookup_reports_missing_file_and_cache_sees_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        let out = lookup(&path, "a.example.org", None).await;
        assert!(out.result.unwrap_err().contains("cannot open"));

        let age = |path: &Path| {
            let old = SystemTime::now() - std::time::Duration::from_secs(60);
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(old)
                .unwrap();
        };
        let cache = HostsFileCache::new();

        // Just written: read again on every load, however coarse the file system's clock.
        std::fs::write(&path, "10.0.0.1 a.example.org\n").unwrap();
        let first = cache.load(&path).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &cache.load(&path).await.unwrap()));

        // Settled: parsed once, then served from the cache while unchanged.
        age(&path);
        let f = cache.load(&path).await.unwrap();
        assert!(Arc::ptr_eq(&f, &cache.load(&path).await.unwrap()));
        assert_eq!(
            f.resolve("a.example.org").unwrap().ip.to_string(),
            "10.0.0.1"
        );

        // The admin fixes the file: the new size (and mtime) is noticed at once.
        std::fs::write(&path, "192.0.2.1 a.example.org\n").unwrap();
        age(&path);
        assert_eq!(
            seen_within(&cache, &path, "a.example.org", "10.0.0.1").await,
            "192.0.2.1"
        );
    }

    /// What the cache says `name` is, once it is no longer `old` (the watcher's thread
    /// flags an edit a moment after it happens), within a second.
    async fn seen_within(cache: &HostsFileCache, path: &Path, name: &str, old: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            let now = cache.load(path).await.ok().and_then(|f| f.resolve(name));
            let now = now.map_or_else(|| "none".into(), |e| e.ip.to_string());
            if now != old || std::time::Instant::now() > deadline {
                return now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_watched_file_costs_no_stat_until_it_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        let settled = |path: &Path, text: &str| {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text).unwrap();
            let old = SystemTime::now() - std::time::Duration::from_secs(60);
            std::fs::File::options()
                .write(true)
                .open(&tmp)
                .unwrap()
                .set_modified(old)
                .unwrap();
            // As editors save: a new file renamed over the old one.
            std::fs::rename(&tmp, path).unwrap();
        };
        settled(&path, "10.0.0.1 a.example.org\n");
        let cache = HostsFileCache::new();
        let first = cache.load(&path).await.unwrap();
        cache.load(&path).await.unwrap();
        let stats = cache.stats();
        for _ in 0..1000 {
            assert!(Arc::ptr_eq(&first, &cache.load(&path).await.unwrap()));
        }
        assert_eq!(cache.stats(), stats, "a thousand loads, no stat");

        // Another file of the directory changing costs nothing either, nor programs
        // reading the file (every program started opens files in /etc).
        std::fs::write(dir.path().join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
        for _ in 0..10 {
            std::fs::read(&path).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        cache.load(&path).await.unwrap();
        assert_eq!(cache.stats(), stats);

        // The admin saves a fix (rename over, same size, an old mtime): seen at once.
        settled(&path, "10.0.0.9 a.example.org\n");
        assert_eq!(
            seen_within(&cache, &path, "a.example.org", "10.0.0.1").await,
            "10.0.0.9"
        );
        // And an append (`>>`, the same inode).
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"10.0.0.10 b.example.org\n")
            .unwrap();
        assert_eq!(
            seen_within(&cache, &path, "b.example.org", "none").await,
            "10.0.0.10"
        );
    }

    #[tokio::test]
    async fn oversized_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        let line = "10.0.0.1 a.example.org\n";
        let big = line.repeat((MAX_HOSTS_FILE_BYTES as usize / line.len()) + 1);
        std::fs::write(&path, big).unwrap();
        let err = read(&path).await.unwrap_err();
        assert!(err.contains("larger than"), "{err}");
    }
}
