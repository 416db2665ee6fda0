//! Text from the network (banners, headers, DNS names) is untrusted: it is cleaned here
//! before it can reach the terminal, a JSON consumer or a log.

/// Replaces control characters (including ESC, so no terminal escape survives) with visible
/// `\xNN` escapes, turns line breaks and tabs into spaces, and caps the length in characters.
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
            // Bidirectional overrides and zero-width characters can disguise text.
            '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
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
        assert_eq!(sanitize("\u{202e}evil", 100), "?evil");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(sanitize_bytes(b"\xff1m", 10), "\u{fffd}1m");
        assert_eq!(sanitize("\u{9b}1m", 10), "\\x9b1m");
    }
}
