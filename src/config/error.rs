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

    /// From a toml parse or deserialize error, keeping its span.
    pub fn from_toml(path: &Path, source: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().to_string();
        match err.span() {
            Some(span) => ConfigError::at(path, source, span, message),
            None => ConfigError::at(path, source, 0..0, message),
        }
    }
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

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.path.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some((text, width)) = &self.excerpt {
            let gutter = self.line.to_string().len();
            let text = crate::sanitize::sanitize_line(text);
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {:pad$}{}",
                "",
                self.line,
                text,
                "",
                "",
                "^".repeat(*width),
                pad = self.col - 1,
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
}
