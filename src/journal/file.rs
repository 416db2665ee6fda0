//! The journal file: appending whole lines, reading them back.
//!
//! Every line is written with one `write(2)` on a file opened with `O_APPEND`: the kernel
//! places each write at the end of the file atomically, and on Linux a write to a regular
//! file is not interleaved with another process's write, so concurrent moveday processes
//! sharing one journal never mix their lines. A line is at most [`MAX_LINE`] bytes (long
//! text fields are cut). Nothing is buffered in the process: once `append` returns, the
//! line is in the kernel and survives the process being killed; it is not `fsync`ed (a
//! power cut may lose the last seconds; [`JournalWriter::sync`] is there for a clean
//! stop).
//!
//! A write cut short (a full disk, a crash of the machine) leaves a line without its
//! newline. The next append notices (the file does not end with `\n`) and starts with a
//! newline, so the torn line stays alone and the reader skips it with a warning.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Entry, Event, KINDS, MAX_LINE};

/// A journal that cannot be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot create the journal's directory {}: {source}", .path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot open the journal {}: {source}", .path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("no journal at {}", .path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read the journal {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
}

/// One entry as a line of JSON, newline included, at most [`MAX_LINE`] bytes: text fields
/// and lists are cut (a `…` marks a cut) until it fits.
pub fn encode_line(entry: &Entry) -> Vec<u8> {
    // The common case: the entry as it is, fields in their declared order (`at`, `kind`
    // first).
    if let Ok(mut line) = serde_json::to_vec(entry)
        && line.len() < MAX_LINE
    {
        line.push(b'\n');
        return line;
    }
    let Ok(mut value) = serde_json::to_value(entry) else {
        return minimal_line(entry.at, entry.event.kind());
    };
    for (max_chars, max_items) in [(8192, 256), (1024, 64), (128, 16), (32, 4)] {
        clamp(&mut value, max_chars, max_items);
        if let Some(mut line) = ordered(&value)
            && line.len() < MAX_LINE
        {
            line.push(b'\n');
            return line;
        }
    }
    minimal_line(entry.at, entry.event.kind())
}

/// A JSON object with `at` and `kind` first, then the other fields (a `Value`'s map is
/// sorted by key).
fn ordered(value: &Value) -> Option<Vec<u8>> {
    let map = value.as_object()?;
    let mut out = b"{".to_vec();
    let first = ["at", "kind"]
        .into_iter()
        .filter_map(|k| Some((k, map.get(k)?)));
    let rest = map
        .iter()
        .filter(|(k, _)| *k != "at" && *k != "kind")
        .map(|(k, v)| (k.as_str(), v));
    for (i, (key, v)) in first.chain(rest).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(serde_json::to_vec(key).ok()?);
        out.push(b':');
        out.extend(serde_json::to_vec(v).ok()?);
    }
    out.push(b'}');
    Some(out)
}

fn minimal_line(at: DateTime<Utc>, kind: &str) -> Vec<u8> {
    let mut line = serde_json::to_vec(&serde_json::json!({
        "at": at,
        "kind": kind,
        "truncated": true,
    }))
    .unwrap_or_default();
    line.push(b'\n');
    line
}

/// Cuts every string longer than `max_chars` and every list longer than `max_items`, except
/// the `at` and `kind` fields.
fn clamp(value: &mut Value, max_chars: usize, max_items: usize) {
    match value {
        Value::String(s) if s.chars().count() > max_chars => {
            let mut cut: String = s.chars().take(max_chars).collect();
            cut.push('…');
            *s = cut;
        }
        Value::Array(items) => {
            items.truncate(max_items);
            for item in items {
                clamp(item, max_chars, max_items);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key != "at" && key != "kind" {
                    clamp(item, max_chars, max_items);
                }
            }
        }
        _ => {}
    }
}

/// Appends entries to a journal, one `write(2)` per line.
#[derive(Debug)]
pub struct JournalWriter {
    file: File,
    path: PathBuf,
}

impl JournalWriter {
    /// Opens (creating it, and its directory, if need be) the journal at `path` for
    /// appending. A new file is mode 0600 and its directory 0700, like the state file.
    pub fn open(path: &Path) -> Result<JournalWriter, JournalError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| JournalError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|source| JournalError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(JournalWriter {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entries`, each as one line written by a single `write(2)`. Stops at the
    /// first failure; the error names the file.
    pub fn append(&mut self, entries: &[Entry]) -> io::Result<()> {
        self.append_counted(entries).map_err(|(_, e)| e)
    }

    /// [`append`](Self::append), saying on failure how many entries were written first.
    pub fn append_counted(&mut self, entries: &[Entry]) -> Result<(), (usize, io::Error)> {
        for (i, entry) in entries.iter().enumerate() {
            self.write_line(encode_line(entry)).map_err(|e| {
                (
                    i,
                    io::Error::new(
                        e.kind(),
                        format!("cannot write to the journal {}: {e}", self.path.display()),
                    ),
                )
            })?;
        }
        Ok(())
    }

    fn write_line(&mut self, mut line: Vec<u8>) -> io::Result<()> {
        // A line cut short earlier (by us, or by a process that died) must not swallow
        // this one: start on a fresh line. Another process doing the same at the same
        // moment adds an empty line, which the reader ignores.
        if !self.ends_with_newline()? {
            line.insert(0, b'\n');
        }
        loop {
            match (&self.file).write(&line) {
                Ok(n) if n == line.len() => return Ok(()),
                Ok(n) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("short write ({n} of {} bytes)", line.len()),
                    ));
                }
                // Nothing was written: the same single write again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn ends_with_newline(&self) -> io::Result<bool> {
        let len = self.file.metadata()?.len();
        if len == 0 {
            return Ok(true);
        }
        let mut last = [0u8; 1];
        self.file.read_at(&mut last, len - 1)?;
        Ok(last[0] == b'\n')
    }

    /// Flushes the file's data to the disk (`fdatasync`): for a clean stop. Appends do not
    /// do it, so a probe transition never waits on the disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Reads a whole journal: the entries in file order, and a warning for every line
/// skipped (a torn last line, an invalid line), each naming the file and the line. Lines of
/// a kind this version does not know are skipped with one warning in all.
///
/// Read a line at a time: the memory it takes is the entries', not the file's as well.
pub fn read(path: &Path) -> Result<(Vec<Entry>, Vec<String>), JournalError> {
    let failed = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            JournalError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            JournalError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let mut reader = io::BufReader::with_capacity(1 << 16, File::open(path).map_err(failed)?);
    let mut parser = Parser::new(&path.display().to_string());
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if io::BufRead::read_until(&mut reader, b'\n', &mut line).map_err(failed)? == 0 {
            break;
        }
        let rest = parser.lines(&line, &mut entries, &mut warnings);
        if !rest.is_empty() {
            warnings.push(format!(
                "{}:{}: torn last line (no newline at its end: a write was cut short), skipped",
                parser.name,
                parser.line + 1
            ));
            break;
        }
    }
    warnings.extend(parser.summaries());
    Ok((entries, warnings))
}

/// Parses journal text (whole lines; a last line without a newline is torn and skipped
/// with a warning). `name` is used in warnings.
pub fn parse(bytes: &[u8], name: &str) -> (Vec<Entry>, Vec<String>) {
    let mut parser = Parser::new(name);
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let rest = parser.lines(bytes, &mut entries, &mut warnings);
    if !rest.is_empty() {
        warnings.push(format!(
            "{name}:{}: torn last line (no newline at its end: a write was cut short), skipped",
            parser.line + 1
        ));
    }
    warnings.extend(parser.summaries());
    (entries, warnings)
}

/// How many invalid lines are named one by one; the rest are counted in one warning (100 MB
/// of garbage must not make a report of millions of lines).
pub const MAX_SKIPPED_SHOWN: usize = 10;

/// Line-by-line parsing state.
struct Parser {
    name: String,
    /// Lines consumed so far.
    line: usize,
    unknown: Vec<String>,
    unknown_count: usize,
    /// Invalid lines skipped (the first [`MAX_SKIPPED_SHOWN`] have a warning each).
    invalid: usize,
}

impl Parser {
    fn new(name: &str) -> Parser {
        Parser {
            name: name.to_string(),
            line: 0,
            unknown: Vec::new(),
            unknown_count: 0,
            invalid: 0,
        }
    }

    /// Parses every complete line of `bytes`; returns what follows the last newline.
    fn lines<'a>(
        &mut self,
        bytes: &'a [u8],
        entries: &mut Vec<Entry>,
        warnings: &mut Vec<String>,
    ) -> &'a [u8] {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.line += 1;
            match self.one(&rest[..end]) {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {}
                Err(why) => {
                    self.invalid += 1;
                    if self.invalid <= MAX_SKIPPED_SHOWN {
                        warnings.push(format!("{}:{}: {why}, skipped", self.name, self.line));
                    }
                }
            }
            rest = &rest[end + 1..];
        }
        rest
    }

    fn one(&mut self, line: &[u8]) -> Result<Option<Entry>, String> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let value: Value =
            serde_json::from_slice(line).map_err(|e| format!("not a JSON line ({e})"))?;
        let Value::Object(mut map) = value else {
            return Err("not a JSON object".into());
        };
        let at = match map.remove("at") {
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(&s)
                .map_err(|e| format!("bad time `{}` ({e})", crate::sanitize::sanitize(&s, 40)))?
                .to_utc(),
            _ => return Err("no `at` time".into()),
        };
        let kind = match map.get("kind") {
            Some(Value::String(k)) => k.clone(),
            _ => return Err("no `kind`".into()),
        };
        if !KINDS.contains(&kind.as_str()) {
            // Written by a newer moveday: not an error.
            self.unknown_count += 1;
            let kind = crate::sanitize::sanitize(&kind, 40);
            if !self.unknown.contains(&kind) && self.unknown.len() < 8 {
                self.unknown.push(kind);
            }
            return Ok(None);
        }
        let event: Event = serde_json::from_value(Value::Object(map))
            .map_err(|e| format!("invalid `{kind}` event ({e})"))?;
        Ok(Some(Entry { at, event }))
    }

    /// The warnings that sum up: invalid lines beyond the first few, unknown kinds.
    fn summaries(&self) -> impl Iterator<Item = String> {
        let more = (self.invalid > MAX_SKIPPED_SHOWN).then(|| {
            format!(
                "{}: {} more invalid line(s) skipped ({} in all; the first {MAX_SKIPPED_SHOWN} \
                 are named above)",
                self.name,
                self.invalid - MAX_SKIPPED_SHOWN,
                self.invalid
            )
        });
        more.into_iter().chain(self.unknown_warning())
    }

    fn unknown_warning(&self) -> Option<String> {
        (self.unknown_count > 0).then(|| {
            format!(
                "{}: skipped {} event(s) of kinds this moveday does not know ({})",
                self.name,
                self.unknown_count,
                self.unknown.join(", ")
            )
        })
    }
}

/// Follows a journal: each [`poll`](Tail::poll) returns the whole lines added since the
/// last one (other processes' included). A line still without its newline is left for the
/// next poll. A journal replaced or cut shorter is read again from its start.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    offset: u64,
    line: usize,
    file_id: Option<(u64, u64)>,
}

impl Tail {
    /// From the start of the journal (the file need not exist yet).
    pub fn new(path: &Path) -> Tail {
        Tail {
            path: path.to_path_buf(),
            offset: 0,
            line: 0,
            file_id: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// New complete lines since the last poll, and warnings for the ones skipped. A missing
    /// file is no news.
    pub fn poll(&mut self) -> io::Result<(Vec<Entry>, Vec<String>)> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let id = (meta.dev(), meta.ino());
        if self.file_id != Some(id) || meta.len() < self.offset {
            self.file_id = Some(id);
            self.offset = 0;
            self.line = 0;
        }
        if meta.len() == self.offset {
            return Ok((Vec::new(), Vec::new()));
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        file.take(meta.len() - self.offset)
            .read_to_end(&mut bytes)?;
        let mut parser = Parser::new(&self.path.display().to_string());
        parser.line = self.line;
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        let rest = parser.lines(&bytes, &mut entries, &mut warnings);
        self.offset += (bytes.len() - rest.len()) as u64;
        self.line = parser.line;
        warnings.extend(parser.summaries());
        Ok((entries, warnings))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::journal::Event;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn text(t: &str) -> Entry {
        Entry {
            at: at("2009-12-05T09:00:00Z"),
            event: Event::Text {
                text: t.into(),
                who: "ann".into(),
                host: None,
            },
        }
    }

    #[test]
    fn a_line_is_json_with_at_and_kind_first() {
        let old = Entry {
            at: at("2009-12-05T09:00:00.250Z"),
            event: Event::Old {
                host: "mail".into(),
                ip: "198.51.100.11".parse().unwrap(),
                answering: true,
                detail: None,
            },
        };
        let want = "{\"at\":\"2009-12-05T09:00:00.250Z\",\"kind\":\"old\",\"host\":\"mail\",\"ip\":\"198.51.100.11\",\"answering\":true}\n";
        assert_eq!(String::from_utf8(encode_line(&old)).unwrap(), want);
        // Cut to fit, the line keeps `at` and `kind` first.
        let long = encode_line(&text(&"x".repeat(MAX_LINE)));
        assert!(
            long.starts_with(b"{\"at\":\"2009-12-05T09:00:00Z\",\"kind\":\"text\","),
            "{}",
            String::from_utf8_lossy(&long[..80])
        );
    }

    #[test]
    fn huge_text_is_cut_to_fit_a_line() {
        let line = encode_line(&text(&"x".repeat(200_000)));
        assert!(line.len() <= MAX_LINE, "{}", line.len());
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let (entries, warnings) = parse(&line, "j");
        assert!(warnings.is_empty(), "{warnings:?}");
        let Event::Text { text, .. } = &entries[0].event else {
            panic!()
        };
        assert!(text.ends_with('…') && text.len() > 8000, "{}", text.len());
    }

    #[test]
    fn many_invalid_lines_are_named_a_few_then_counted() {
        // Issue 15 item 20: one warning per garbage line made a 294 MB report of 100 MB.
        let mut bytes = Vec::new();
        for i in 0..5000 {
            bytes.extend_from_slice(format!("garbage {i}\n").as_bytes());
        }
        bytes.extend_from_slice(b"{\"at\":\"2009-12-05T09:00:00Z\",\"kind\":\"text\",\"text\":\"hi\",\"who\":\"ann\"}\n");
        let (entries, warnings) = parse(&bytes, "j.jsonl");
        assert_eq!(entries.len(), 1);
        assert_eq!(warnings.len(), MAX_SKIPPED_SHOWN + 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("j.jsonl:1: not a JSON line"),
            "{}",
            warnings[0]
        );
        assert_eq!(
            warnings[MAX_SKIPPED_SHOWN],
            "j.jsonl: 4990 more invalid line(s) skipped (5000 in all; the first 10 are named above)"
        );
    }

    #[test]
    fn torn_invalid_and_unknown_lines_are_skipped_with_warnings() {
        let mut bytes = Vec::new();
        bytes.extend(encode_line(&text("one")));
        bytes.extend(b"garbage\n\n");
        bytes.extend(b"{\"at\":\"2009-12-05T09:01:00Z\",\"kind\":\"hologram\",\"x\":1}\n");
        bytes.extend(b"{\"at\":\"2009-12-05T09:01:00Z\",\"kind\":\"health\",\"host\":\"a\"}\n");
        bytes.extend(encode_line(&text("two")));
        bytes.extend(b"{\"at\":\"2009-12-05T09:0");
        let (entries, warnings) = parse(&bytes, "j.jsonl");
        assert_eq!(entries, [text("one"), text("two")]);
        assert_eq!(warnings.len(), 4, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("j.jsonl:2: not a JSON line"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("j.jsonl:5: invalid `health` event"),
            "{warnings:?}"
        );
        assert_eq!(
            warnings[2],
            "j.jsonl:7: torn last line (no newline at its end: a write was cut short), skipped"
        );
        assert_eq!(
            warnings[3],
            "j.jsonl: skipped 1 event(s) of kinds this moveday does not know (hologram)"
        );
    }

    #[test]
    fn an_append_after_a_torn_line_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/j.jsonl");
        let mut w = JournalWriter::open(&path).unwrap();
        w.append(&[text("one")]).unwrap();
        // A process died in the middle of a line.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"at\":\"2009")
            .unwrap();
        let mut w2 = JournalWriter::open(&path).unwrap();
        w2.append(&[text("two")]).unwrap();
        w.append(&[text("three")]).unwrap();
        let (entries, warnings) = read(&path).unwrap();
        assert_eq!(entries, [text("one"), text("two"), text("three")]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("j.jsonl:2: not a JSON line"),
            "{warnings:?}"
        );
        let mode = fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn tail_returns_only_new_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut tail = Tail::new(&path);
        assert!(tail.poll().unwrap().0.is_empty());
        let mut w = JournalWriter::open(&path).unwrap();
        w.append(&[text("one"), text("two")]).unwrap();
        assert_eq!(tail.poll().unwrap().0, [text("one"), text("two")]);
        assert!(tail.poll().unwrap().0.is_empty());
        // Half a line: not yet.
        let line = encode_line(&text("three"));
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(&line[..10]).unwrap();
        assert!(tail.poll().unwrap().0.is_empty());
        raw.write_all(&line[10..]).unwrap();
        assert_eq!(tail.poll().unwrap().0, [text("three")]);
        // Replaced by a new file: read from its start.
        fs::remove_file(&path).unwrap();
        JournalWriter::open(&path)
            .unwrap()
            .append(&[text("four")])
            .unwrap();
        assert_eq!(tail.poll().unwrap().0, [text("four")]);
    }
}
