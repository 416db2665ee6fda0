//! Configuration errors that point at the offending byte: `path:line:col`, the line, a caret.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem in a configuration file (inventory, theme), located to a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line; 0 when the error is about the whole file (for example it cannot be read).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
    pub message: String,
    /// The offending source line and the caret width, for display.
    pub excerpt: Option<(String, usize)>,
}

impl ConfigError {
    /// An error about the whole file, with no position.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message: message.into(),
            excerpt: None,
        }
    }

    /// An error at a byte span of `source`.
    pub fn at(path: &Path, source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let (line, col, text, width) = locate(source, span);
        ConfigError {
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            excerpt: Some((text, width)),
        }
    }

    /// The same error without the quoted line: for a value that may be a secret (a key, a
    /// URL whose path is a token).
    pub fn unquoted(mut self) -> Self {
        self.excerpt = None;
        self
    }

    /// From a toml parse or deserialize error, keeping its span.
    pub fn from_toml(path: &Path, source: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().to_string();
        match err.span() {
            Some(span) => ConfigError::at(path, source, span, message),
            None => ConfigError::at(path, source, 0..0, message),
        }
    }
}

/// The largest configuration file read: an inventory of ten thousand hosts is about 1 MiB;
/// past this it is not a configuration file (`/dev/zero`, a log given by mistake).
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// `what` from stdin (`--inventory -`), at most [`MAX_CONFIG_BYTES`], as UTF-8.
pub fn read_stdin(what: &str) -> Result<String, ConfigError> {
    use std::io::Read as _;
    let path = Path::new("-");
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ConfigError::file(path, format!("cannot read {what} from stdin: {e}")))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::file(
            path,
            format!(
                "cannot read {what} from stdin: larger than {} MiB",
                MAX_CONFIG_BYTES / (1024 * 1024)
            ),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| ConfigError::file(path, format!("{what} on stdin is not UTF-8")))
}

/// The text of a configuration file (`what`: "inventory", "theme"): a regular file or a
/// pipe, at most [`MAX_CONFIG_BYTES`], UTF-8, or a clear error: the line and column of
/// the first byte that is not UTF-8.
pub fn read_config(path: &Path, what: &str) -> Result<String, ConfigError> {
    use std::io::Read as _;
    let cannot = |e: std::io::Error| ConfigError::file(path, format!("cannot read {what}: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let kind = file.metadata().map_err(cannot)?.file_type();
    if kind.is_dir() {
        return Err(ConfigError::file(
            path,
            format!("cannot read {what}: it is a directory"),
        ));
    }
    if !kind.is_file() && !std::os::unix::fs::FileTypeExt::is_fifo(&kind) {
        return Err(ConfigError::file(
            path,
            format!("cannot read {what}: not a regular file"),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::file(
            path,
            format!(
                "cannot read {what}: larger than {} MiB",
                MAX_CONFIG_BYTES / 1024 / 1024
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let byte = e.as_bytes().get(at).copied().unwrap_or_default();
        // The text before `at` is the same in the lossy copy: the position holds.
        let lossy = String::from_utf8_lossy(e.as_bytes());
        ConfigError::at(
            path,
            &lossy,
            at..at,
            format!("not UTF-8: byte 0x{byte:02x}; the {what} must be UTF-8 text"),
        )
    })
}

/// 1-based line and column of `span.start`, the line's text and the caret width.
fn locate(source: &str, span: Range<usize>) -> (usize, usize, String, usize) {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let line = source[..start].matches('\n').count() + 1;
    let col = source[line_start..start].chars().count() + 1;
    let text = source[line_start..line_end]
        .trim_end_matches('\r')
        .to_string();
    let end = floor_char_boundary(source, span.end.clamp(start, line_end));
    let width = source[start..end].chars().count().max(1);
    (line, col, text, width)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How much of a long line an excerpt shows, in characters of the source: the reported
/// column sits in a window this wide (a minified or generated file can have a line of a
/// megabyte; a terminal shows a hundred columns or so).
pub const EXCERPT_CHARS: usize = 80;

/// Longest message shown, in characters (messages quote values from the file).
const MESSAGE_CHARS: usize = 1000;

/// One source character as the excerpt shows it: escaped when it is a control character
/// (`\x1b`), with its width in terminal columns.
fn shown_char(c: char) -> (String, usize) {
    let text = crate::sanitize::sanitize(c.encode_utf8(&mut [0; 4]), 1);
    let width = unicode_width::UnicodeWidthStr::width(text.as_str());
    (text, width)
}

/// The excerpt of `line` around the 1-based character column `col`: at most
/// [`EXCERPT_CHARS`] characters with `…` where it was cut, every character escaped, and the
/// caret line's padding and width in terminal columns (so the caret stays under the
/// offending character whatever came before it: tabs, escapes, wide characters).
fn excerpt_window(line: &str, col: usize, width: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    let at = col.saturating_sub(1).min(chars.len());
    let (start, end) = if chars.len() <= EXCERPT_CHARS {
        (0, chars.len())
    } else {
        // A quarter of the window before the column, the rest after it (the value).
        let start = at
            .saturating_sub(EXCERPT_CHARS / 4)
            .min(chars.len() - EXCERPT_CHARS);
        (start, start + EXCERPT_CHARS)
    };
    let mut text = String::new();
    let mut columns = 0;
    if start > 0 {
        text.push('…');
        columns += 1;
    }
    let (mut pad, mut caret) = (None, 0);
    for (i, &c) in chars.iter().enumerate().take(end).skip(start) {
        if i == at {
            pad = Some(columns);
        }
        let (shown, w) = shown_char(c);
        if i >= at && i < at + width {
            caret += w;
        }
        text.push_str(&shown);
        columns += w;
    }
    let pad = pad.unwrap_or(columns);
    if end < chars.len() {
        text.push('…');
    }
    (text, pad, caret.max(1))
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = crate::sanitize::sanitize(&self.message, MESSAGE_CHARS);
        let path = crate::sanitize::sanitize(&self.path.display().to_string(), MESSAGE_CHARS);
        if self.line == 0 {
            return write!(f, "{path}: {message}");
        }
        write!(f, "{path}:{}:{}: {message}", self.line, self.col,)?;
        if let Some((line, width)) = &self.excerpt {
            let gutter = " ".repeat(self.line.to_string().len());
            let (text, pad, caret) = excerpt_window(line, self.col, *width);
            write!(
                f,
                "\n{gutter} |\n{} | {text}\n{gutter} | {}{}",
                self.line,
                " ".repeat(pad),
                "^".repeat(caret),
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column() {
        let src = "a = 1\nbb = \"x\"\n";
        let e = ConfigError::at(Path::new("f.toml"), src, 11..14, "bad");
        assert_eq!((e.line, e.col), (2, 6));
        assert_eq!(
            e.to_string(),
            "f.toml:2:6: bad\n  |\n2 | bb = \"x\"\n  |      ^^^"
        );
    }

    /// The caret line of an error's display, and the excerpt line above it.
    fn excerpt_and_caret(e: &ConfigError) -> (String, String) {
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let strip = |l: &str| l.split_once(" | ").map_or("", |(_, t)| t).to_string();
        (strip(lines[2]), strip(lines[3]))
    }

    #[test]
    fn a_column_past_65536_shows_a_window_of_the_line() {
        // Was a panic: "Formatting argument out of range" (a padding over u16::MAX).
        let line = format!("{}x = 1", "a".repeat(70_000));
        let e = ConfigError::at(Path::new("f.toml"), &line, 70_000..70_001, "bad");
        assert_eq!((e.line, e.col), (1, 70_001));
        let (excerpt, caret) = excerpt_and_caret(&e);
        assert!(
            excerpt.starts_with('…') && !excerpt.ends_with('…'),
            "{excerpt}"
        );
        assert!(excerpt.chars().count() <= EXCERPT_CHARS + 2, "{excerpt}");
        assert_eq!(
            &excerpt[caret.find('^').unwrap() + '…'.len_utf8() - 1..][..5],
            "x = 1"
        );
        // Both ends cut in the middle of a long line.
        let line = format!("{}x{}", "a".repeat(1000), "b".repeat(1000));
        let e = ConfigError::at(Path::new("f.toml"), &line, 1000..1001, "bad");
        let (excerpt, caret) = excerpt_and_caret(&e);
        assert!(
            excerpt.starts_with('…') && excerpt.ends_with('…'),
            "{excerpt}"
        );
        let chars: Vec<char> = excerpt.chars().collect();
        assert_eq!(chars[caret.find('^').unwrap()], 'x', "{excerpt}\n{caret}");
        assert_eq!(caret.trim(), "^");
    }

    #[test]
    fn the_caret_stays_under_the_column_after_escapes_and_wide_characters() {
        let src = "k = \"\u{1b}[2J漢\tv\"";
        let at = src.find('v').unwrap();
        let e = ConfigError::at(Path::new("f.toml"), src, at..at + 1, "bad \u{7}bell");
        let text = e.to_string();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        let (excerpt, caret) = excerpt_and_caret(&e);
        assert_eq!(excerpt, "k = \"\\x1b[2J漢 v\"");
        // `\x1b` is 4 columns, 漢 is 2: the caret is under the v.
        assert_eq!(caret, format!("{}^", " ".repeat(15)));
    }

    #[test]
    fn invalid_utf8_is_located_at_its_first_bad_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.toml");
        // Latin-1 é on line 3, after a valid multi-byte character on the same line.
        std::fs::write(&path, b"[move]\n\nname = \"\xc3\xa9t\xe9\"\n\xff\n").unwrap();
        let e = read_config(&path, "inventory").unwrap_err();
        assert_eq!((e.line, e.col), (3, 11), "{e}");
        assert_eq!(
            e.message,
            "not UTF-8: byte 0xe9; the inventory must be UTF-8 text"
        );
        let (excerpt, caret) = excerpt_and_caret(&e);
        assert_eq!(excerpt, "name = \"ét\u{fffd}\"");
        assert_eq!(caret, format!("{}^", " ".repeat(10)));
    }

    #[test]
    fn only_regular_files_and_pipes_of_a_sane_size_are_read() {
        let e = read_config(Path::new("/dev/zero"), "inventory").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: cannot read inventory: not a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let e = read_config(dir.path(), "theme").unwrap_err();
        assert!(e.message.ends_with("it is a directory"), "{e}");
        let big = dir.path().join("big.toml");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let e = read_config(&big, "inventory").unwrap_err();
        assert!(e.message.ends_with("larger than 16 MiB"), "{e}");
    }
}
