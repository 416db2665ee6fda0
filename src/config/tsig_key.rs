//! A TSIG key file as BIND's `tsig-keygen` (and `ddns-confgen`) writes it:
//!
//! ```text
//! key "moveday-canary" {
//!         algorithm hmac-sha256;
//!         secret "base64...";
//! };
//! ```
//!
//! The canary's only credential (`[[zone]] canary_key`). The file holds exactly one `key`
//! statement (comments as named.conf allows them: `#`, `//`, `/* */`). An error names the
//! file, line and column, and never quotes the file's text: the line may be the secret.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// The HMACs a key may use (those hickory signs with; BIND's default is hmac-sha256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    fn parse(word: &str) -> Option<TsigAlgorithm> {
        match word.to_ascii_lowercase().trim_end_matches('.') {
            "hmac-sha256" => Some(TsigAlgorithm::HmacSha256),
            "hmac-sha384" => Some(TsigAlgorithm::HmacSha384),
            "hmac-sha512" => Some(TsigAlgorithm::HmacSha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }
}

impl From<TsigAlgorithm> for hickory_proto::rr::rdata::tsig::TsigAlgorithm {
    fn from(a: TsigAlgorithm) -> Self {
        use hickory_proto::rr::rdata::tsig::TsigAlgorithm as Hickory;
        match a {
            TsigAlgorithm::HmacSha256 => Hickory::HmacSha256,
            TsigAlgorithm::HmacSha384 => Hickory::HmacSha384,
            TsigAlgorithm::HmacSha512 => Hickory::HmacSha512,
        }
    }
}

/// A TSIG key: its name (as the server knows it), its HMAC and its secret. `Debug` never
/// shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: TsigAlgorithm,
    pub secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"(hidden)")
            .finish()
    }
}

/// A key file read: the key, and a warning when others than its owner may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedKey {
    pub path: PathBuf,
    pub key: TsigKey,
    pub warning: Option<String>,
}

/// The largest key file read (a key statement is about a hundred bytes).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Reads and checks the key file at `path`.
pub fn load_tsig_key(path: &Path) -> Result<LoadedKey, ConfigError> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let cannot = |e: std::io::Error| ConfigError::file(path, format!("cannot read TSIG key: {e}"));
    // Opened without blocking: a FIFO given as the key must not hang moveday before it is
    // found to be no regular file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(ConfigError::file(
            path,
            "cannot read TSIG key: not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(ConfigError::file(
            path,
            "cannot read TSIG key: larger than 64 KiB, not a key file",
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| ConfigError::file(path, "cannot read TSIG key: not UTF-8 text"))?;
    let key = parse_tsig_key(path, &text)?;
    let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
    let warning = (mode & 0o004 != 0).then(|| {
        format!(
            "{} is readable by others (mode {:04o}): anyone on this machine can change the zone; chmod o-r it",
            path.display(),
            mode & 0o7777
        )
    });
    Ok(LoadedKey {
        path: path.to_path_buf(),
        key,
        warning,
    })
}

/// Checks the text of a key file; `path` is for messages.
pub fn parse_tsig_key(path: &Path, text: &str) -> Result<TsigKey, ConfigError> {
    let tokens = tokenize(path, text)?;
    Parser {
        path,
        text,
        tokens: &tokens,
        at: 0,
    }
    .key_file()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semi,
}

/// Located to a byte span, never quoting the text (it may hold the secret).
fn located(path: &Path, text: &str, span: Range<usize>, message: String) -> ConfigError {
    ConfigError::at(path, text, span, message).unquoted()
}

fn tokenize(path: &Path, text: &str) -> Result<Vec<(Tok, Range<usize>)>, ConfigError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => i = text[i..].find('\n').map_or(bytes.len(), |n| i + n),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(n) => i = i + 2 + n + 2,
                None => {
                    return Err(located(path, text, i..i + 2, "comment never ends".into()));
                }
            },
            b'{' | b'}' | b';' => {
                let tok = match c {
                    b'{' => Tok::Open,
                    b'}' => Tok::Close,
                    _ => Tok::Semi,
                };
                out.push((tok, i..i + 1));
                i += 1;
            }
            b'"' => {
                let Some(n) = text[i + 1..].find(['"', '\n']) else {
                    return Err(located(path, text, i..i + 1, "quote never closed".into()));
                };
                if bytes[i + 1 + n] == b'\n' {
                    return Err(located(path, text, i..i + 1, "quote never closed".into()));
                }
                out.push((
                    Tok::Quoted(text[i + 1..i + 1 + n].to_string()),
                    i..i + n + 2,
                ));
                i += n + 2;
            }
            _ => {
                while i < bytes.len() && !b" \t\r\n{};\"#".contains(&bytes[i]) {
                    i += 1;
                }
                // A lone `/` (not a comment) is part of a word.
                if i == start {
                    i += 1;
                }
                out.push((Tok::Word(text[start..i].to_string()), start..i));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    tokens: &'a [(Tok, Range<usize>)],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, message: String) -> ConfigError {
        let span = match self.tokens.get(self.at) {
            Some((_, span)) => span.clone(),
            None => self.text.len()..self.text.len(),
        };
        located(self.path, self.text, span, message)
    }

    fn next(&mut self) -> Option<Tok> {
        let tok = self.tokens.get(self.at).map(|(t, _)| t.clone());
        self.at += 1;
        tok
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), ConfigError> {
        match self.tokens.get(self.at) {
            Some((t, _)) if t == want => {
                self.at += 1;
                Ok(())
            }
            _ => Err(self.error(format!("expected {what}"))),
        }
    }

    /// `key NAME { algorithm ALG; secret "BASE64"; };`, once.
    fn key_file(mut self) -> Result<TsigKey, ConfigError> {
        if self.tokens.is_empty() {
            return Err(located(
                self.path,
                self.text,
                0..0,
                "no key in the file: expected `key \"name\" { algorithm hmac-sha256; secret \"...\"; };` as tsig-keygen writes it".into(),
            ));
        }
        match self.tokens.first() {
            Some((Tok::Word(w), _)) if w.eq_ignore_ascii_case("key") => self.at = 1,
            _ => return Err(self.error("expected `key` (the file tsig-keygen writes)".into())),
        }
        let name = match self.next() {
            Some(Tok::Quoted(n) | Tok::Word(n)) if !n.trim().is_empty() => {
                n.trim().trim_end_matches('.').to_string()
            }
            _ => {
                self.at -= 1;
                return Err(self.error("expected the key's name after `key`".into()));
            }
        };
        self.expect(&Tok::Open, "`{` after the key's name")?;
        let (algorithm, secret) = self.key_body()?;
        self.expect(&Tok::Close, "`}`")?;
        self.expect(&Tok::Semi, "`;` after `}`")?;
        if self.at < self.tokens.len() {
            return Err(self
                .error("more than one statement: a canary key file holds exactly one key".into()));
        }
        let algorithm = algorithm.unwrap_or(TsigAlgorithm::HmacSha256);
        let Some(secret) = secret else {
            self.at = 1;
            return Err(self.error(format!("key `{name}` has no `secret`")));
        };
        Ok(TsigKey {
            name,
            algorithm,
            secret,
        })
    }

    /// The clauses between the braces.
    fn key_body(&mut self) -> Result<(Option<TsigAlgorithm>, Option<Vec<u8>>), ConfigError> {
        let (mut algorithm, mut secret) = (None, None);
        loop {
            let clause = match self.tokens.get(self.at) {
                Some((Tok::Close, _)) => return Ok((algorithm, secret)),
                Some((Tok::Word(w), _)) => w.to_ascii_lowercase(),
                _ => return Err(self.error("expected `algorithm`, `secret` or `}`".into())),
            };
            self.at += 1;
            let value_at = self.at;
            let value = match self.next() {
                Some(Tok::Word(v) | Tok::Quoted(v)) => v,
                _ => {
                    self.at = value_at;
                    return Err(self.error(format!("expected a value after `{clause}`")));
                }
            };
            match clause.as_str() {
                "algorithm" if algorithm.is_some() => {
                    self.at = value_at - 1;
                    return Err(self.error("`algorithm` is given twice".into()));
                }
                "algorithm" => {
                    algorithm = Some(TsigAlgorithm::parse(&value).ok_or_else(|| {
                        self.at = value_at;
                        self.error(
                            "this algorithm is not supported: use hmac-sha256, hmac-sha384 or hmac-sha512"
                                .into(),
                        )
                    })?);
                }
                "secret" if secret.is_some() => {
                    self.at = value_at - 1;
                    return Err(self.error("`secret` is given twice".into()));
                }
                "secret" => {
                    let decoded = decode_base64(&value).filter(|s| !s.is_empty());
                    let Some(decoded) = decoded else {
                        self.at = value_at;
                        return Err(self.error("the secret is not base64".into()));
                    };
                    secret = Some(decoded);
                }
                other => {
                    self.at = value_at - 1;
                    let _ = other;
                    return Err(self.error(
                        "unknown clause in a key (expected `algorithm` or `secret`)".into(),
                    ));
                }
            }
            self.expect(&Tok::Semi, "`;` after the value")?;
        }
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    data_encoding::BASE64.decode(compact.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TsigKey, ConfigError> {
        parse_tsig_key(Path::new("canary.key"), text)
    }

    const KEYGEN: &str = "key \"moveday-canary\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==\";\n};\n";

    #[test]
    fn reads_what_tsig_keygen_writes() {
        let key = parse(KEYGEN).unwrap();
        assert_eq!(key.name, "moveday-canary");
        assert_eq!(key.algorithm, TsigAlgorithm::HmacSha256);
        assert_eq!(key.secret, b"secret-secret-secret-secret-32b");
        assert!(!format!("{key:?}").contains("c2Vj"));
        assert!(!format!("{key:?}").contains("secret-secret"));
    }

    #[test]
    fn comments_and_other_algorithms() {
        let text = "# made for the move\n// by hand\n/* several\nlines */ key canary. { algorithm HMAC-SHA512; secret \"AAEC\"; };";
        let key = parse(text).unwrap();
        assert_eq!(key.name, "canary");
        assert_eq!(key.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(key.secret, vec![0, 1, 2]);
    }

    #[test]
    fn errors_are_located_and_never_quote_the_secret() {
        let cases = [
            ("", 1, 1, "no key in the file"),
            ("zone \"x\" {};", 1, 1, "expected `key`"),
            (
                "key \"k\" { algorithm hmac-md5; secret \"AAEC\"; };",
                1,
                21,
                "not supported",
            ),
            (
                "key \"k\" {\n secret \"not base64!\";\n};",
                2,
                9,
                "not base64",
            ),
            (
                "key \"k\" { algorithm hmac-sha256; };",
                1,
                5,
                "has no `secret`",
            ),
            ("key \"k\" { secret \"AAEC\" };", 1, 25, "expected `;`"),
            (
                "key \"k\" { secret \"AAEC\"; };\nkey \"j\" { secret \"AAEC\"; };",
                2,
                1,
                "exactly one key",
            ),
            ("key \"k\" { secret \"AAEC; };", 1, 18, "quote never closed"),
            ("key \"k\" { owner x; };", 1, 11, "unknown clause"),
            (
                "key \"k\" { secret \"AAEC\"; secret \"AAEC\"; };",
                1,
                26,
                "given twice",
            ),
        ];
        for (text, line, col, words) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.col), (line, col), "{text}: {e}");
            // The file's words are never quoted (a secret may stand where a word should).
            assert!(
                !e.message.contains("md5") && !e.message.contains("owner"),
                "{e}"
            );
            assert!(e.message.contains(words), "{text}: {e}");
            assert!(e.excerpt.is_none());
            assert!(!e.to_string().contains("AAEC"), "{e}");
        }
    }

    #[test]
    fn a_key_readable_by_others_is_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("canary.key");
        std::fs::write(&path, KEYGEN).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_tsig_key(&path).unwrap().warning, None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warning = load_tsig_key(&path).unwrap().warning.unwrap();
        assert!(
            warning.contains("readable by others (mode 0644)"),
            "{warning}"
        );
        let e = load_tsig_key(dir.path()).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{e}");
        // A FIFO is refused at once, never waited on.
        let fifo = dir.path().join("fifo.key");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let e = load_tsig_key(&fifo).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{e}");
    }
}
