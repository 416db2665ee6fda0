//! Text from the network (banners, headers, DNS names) is untrusted: it is cleaned here
//! before it can reach the terminal, a JSON consumer or a log.

/// Replaces control characters (C0, DEL, C1: so no terminal escape survives) with visible
/// `\xNN` escapes and the invisible or line-breaking characters of the Unicode categories
/// Zl, Zp and Cf with visible `\u{NNNN}` escapes, turns line breaks and tabs into spaces,
/// and caps the length in characters.
pub fn sanitize(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars));
    for (count, c) in text.chars().enumerate() {
        if count >= max_chars {
            out.push('…');
            break;
        }
        match c {
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {
                // Shown as a visible escape, so an operator sees that something odd was sent.
                out.push_str(&format!("\\x{:02x}", c as u32 & 0xff));
            }
            // Line and paragraph separators shift a terminal's text; bidirectional
            // overrides, zero-width and other format characters can disguise it.
            c if is_separator_or_format(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The Unicode categories Zl (U+2028), Zp (U+2029) and Cf (format characters), as of
/// Unicode 16.0 (`DerivedGeneralCategory.txt`): ranges, inclusive, in order.
const SEPARATOR_OR_FORMAT: &[(char, char)] = &[
    ('\u{00ad}', '\u{00ad}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061c}', '\u{061c}'),
    ('\u{06dd}', '\u{06dd}'),
    ('\u{070f}', '\u{070f}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08e2}', '\u{08e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{2028}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

fn is_separator_or_format(c: char) -> bool {
    SEPARATOR_OR_FORMAT
        .binary_search_by(|&(low, high)| {
            if high < c {
                std::cmp::Ordering::Less
            } else if low > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// [`sanitize`] for a line of a configuration file shown in an error message.
pub fn sanitize_line(text: &str) -> String {
    sanitize(text, 500)
}

/// Lossy UTF-8 decode of bytes from the network, then [`sanitize`].
pub fn sanitize_bytes(bytes: &[u8], max_chars: usize) -> String {
    sanitize(&String::from_utf8_lossy(bytes), max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escape_sequences_and_controls() {
        assert_eq!(
            sanitize("SSH-2.0-x\x1b[2J\x07", 100),
            "SSH-2.0-x\\x1b[2J\\x07"
        );
        assert_eq!(sanitize("a\r\nb", 100), "a  b");
        assert_eq!(sanitize("\u{202e}evil", 100), "\\u{202e}evil");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(sanitize_bytes(b"\xff1m", 10), "\u{fffd}1m");
        assert_eq!(sanitize("\u{9b}1m", 10), "\\x9b1m");
    }

    /// Issue 15, item 6: line and paragraph separators (Zl, Zp) and format characters (Cf)
    /// are escaped; letters, marks and spaces beside them are not.
    #[test]
    fn escapes_separators_and_format_characters() {
        assert_eq!(
            sanitize("a\u{2028}b\u{2029}c", 100),
            "a\\u{2028}b\\u{2029}c"
        );
        for (c, escaped) in [
            ('\u{061c}', "\\u{061c}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{180e}', "\\u{180e}"),
            ('\u{00ad}', "\\u{00ad}"),
            ('\u{e0041}', "\\u{e0041}"),
            ('\u{e0001}', "\\u{e0001}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{1343f}', "\\u{1343f}"),
        ] {
            assert_eq!(sanitize(&format!("x{c}y"), 100), format!("x{escaped}y"));
        }
        // Neighbours of the ranges, and ordinary non-ASCII text, pass.
        for plain in [
            "\u{00ac}\u{00ae}",
            "\u{2027}\u{202f}",
            "\u{e0080}",
            "Ålesund Ωμέγα 東京",
            "é",
        ] {
            assert_eq!(sanitize(plain, 100), plain);
        }
        // The table is in order, without overlaps (the search depends on it).
        assert!(
            SEPARATOR_OR_FORMAT
                .windows(2)
                .all(|w| w[0].0 <= w[0].1 && w[0].1 < w[1].0)
        );
        // Escaping is idempotent: text sanitized twice reads the same.
        let once = sanitize("\u{2028}\x1b\u{ad}", 100);
        assert_eq!(sanitize(&once, 100), once);
    }
}
