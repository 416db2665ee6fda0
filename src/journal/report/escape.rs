//! The report's texts made safe to print: no control character, line break or invisible
//! format character from a journal line, the state file or the inventory reaches the
//! terminal (or a mail) raw, whatever wrote them.
//!
//! Two layers: every entry's texts are escaped before the report is built ([`cleaned`]),
//! so a text keeps no line break to forge Markdown with and compares equal to its escaped
//! copy in the journal; and the finished output is escaped once more as a whole
//! ([`escape_markdown`], [`json`]), for whatever else (an inventory's names) may carry.

use std::borrow::Cow;

use serde_json::Value;

use super::{Entry, Event, PostMortem};
use crate::sanitize::sanitize;

/// `entry` with every text [`sanitize`]d (at most `max_chars` each), borrowed when it
/// has nothing to escape (the common case, told by one look at its JSON).
pub(super) fn cleaned(entry: &Entry, max_chars: usize) -> Cow<'_, Entry> {
    let Ok(bytes) = serde_json::to_vec(&entry.event) else {
        return Cow::Borrowed(entry);
    };
    // Control characters are `\\` escapes in JSON; everything else sanitize changes (DEL,
    // C1, format characters) is not ASCII. A long text is also a reason to look.
    let suspect = bytes.iter().any(|&b| b == b'\\' || b >= 0x7f)
        || (max_chars != usize::MAX && bytes.len() > max_chars);
    if !suspect {
        return Cow::Borrowed(entry);
    }
    let Ok(mut value) = serde_json::to_value(&entry.event) else {
        return Cow::Borrowed(entry);
    };
    clean_strings(&mut value, max_chars);
    match serde_json::from_value::<Event>(value) {
        Ok(event) => Cow::Owned(Entry {
            at: entry.at,
            event,
        }),
        // Left as it was: the output's own escaping still covers it.
        Err(_) => Cow::Borrowed(entry),
    }
}

fn clean_strings(value: &mut Value, max_chars: usize) {
    match value {
        Value::String(text) => {
            let clean = sanitize(text, max_chars);
            if clean != *text {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| clean_strings(v, max_chars)),
        Value::Object(fields) => fields
            .values_mut()
            .for_each(|v| clean_strings(v, max_chars)),
        _ => {}
    }
}

/// The Markdown with every line [`sanitize`]d: its own line breaks kept, nothing else that
/// a terminal would act on.
pub(super) fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&sanitize(line, usize::MAX));
    }
    out
}

/// The report as JSON (`--format json`), pretty, ending with a newline. serde_json escapes
/// C0 controls; what [`sanitize`] would change beyond them (DEL, C1, line separators,
/// format characters) is written as `\uXXXX` too, so the text is the same to a JSON reader
/// and inert on a terminal.
pub fn json(pm: &PostMortem) -> String {
    let text = serde_json::to_string_pretty(pm).unwrap_or_else(|e| {
        // Only maps with non-string keys fail; the report has none.
        format!("{{\"error\": \"{e}\"}}")
    });
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if (c.is_ascii() && c != '\x7f') || {
            let mut buf = [0u8; 4];
            let one = c.encode_utf8(&mut buf);
            sanitize(one, 1) == *one
        } {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out.push('\n');
    out
}
