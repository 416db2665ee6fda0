//! The house's layers, checked: every `crate::…` path under `src/` must point to a layer
//! below the file's own, so the imports cannot drift back into circles.
//!
//! ```text
//! 0  sanitize, timefmt, files,  small helpers
//!    schema
//! 1  config                     the inventory and themes, as data
//! 2  probe                      target -> outcome, the scheduler, ProbeReport
//! 3  checklist                  the record, its operations, the state file
//! 4  store                      the model: State, the reducer, its Input
//! 5  journal                    what changed, on disk; the report
//! 6  ui, notify                 pure render and the key map; what goes out to the team
//! 7  demo, check                the simulated move; headless output
//! 8  app                        the loop (and main.rs, the CLI, above everything)
//! ```
//!
//! Test code (`tests.rs` files and `#[cfg(test)]` items) may use anything.

/// Each top-level module and its layer. A module may use only modules of lower layers.
pub const LAYERS: &[(&str, u8)] = &[
    ("sanitize", 0),
    ("timefmt", 0),
    ("files", 0),
    ("schema", 0),
    ("config", 1),
    ("probe", 2),
    ("checklist", 3),
    ("store", 4),
    ("journal", 5),
    ("ui", 6),
    ("notify", 6),
    ("demo", 7),
    ("check", 7),
    ("app", 8),
];

/// The layer of a top-level module, `None` for one the table does not know.
pub fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// Source text with comments, string and character literals blanked out (newlines kept,
/// so line numbers hold): what is left is code.
pub fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (!ident_before(&chars, i) || byte_prefix(&chars, i))
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            out.extend(chars[i..j.min(chars.len())].iter().map(|&c| blank(c)));
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F}'), not a lifetime ('a).
            let end = if next == Some('\\') {
                // Past the backslash and the escaped character: '\'', '\n', '\u{1F}'.
                chars
                    .get(i + 3..)
                    .and_then(|rest| rest.iter().position(|&c| c == '\''))
                    .map(|p| i + 4 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.extend(chars[i..end].iter().map(|&c| blank(c)));
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// `br"…"`: the `r` at `i` follows a lone `b`.
fn byte_prefix(chars: &[char], i: usize) -> bool {
    i > 0 && chars[i - 1] == 'b' && !ident_before(chars, i - 1)
}

/// `code` without the items marked `#[cfg(test)]` (a `mod x;` line or a braced block),
/// blanked the same way.
pub fn without_tests(code: &str) -> String {
    let mut out: Vec<char> = code.chars().collect();
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + marker.len() <= out.len() {
        if out[i..i + marker.len()] != marker[..] {
            i += 1;
            continue;
        }
        // Blank to the end of the item: its first `;` at depth 0, or its closing brace.
        let mut j = i;
        let mut depth = 0usize;
        while j < out.len() {
            match out[j] {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    j += 1;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let end = j.min(out.len());
        for c in &mut out[i..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = j;
    }
    out.into_iter().collect()
}

/// The top-level modules `code` names through `crate::`, with their 1-based lines:
/// `crate::store::State`, `crate::{config, probe::Outcome}`. `depth` is how deep the file's
/// module is (`src/app.rs` and `src/ui/mod.rs` 1, `src/store/links.rs` 2): a `super::`
/// chain that climbs that far names the crate's root too (`super::ui::View` in a
/// top-level module's own file).
pub fn crate_uses(code: &str, depth: usize) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some((at, after)) = root_path(rest, depth) {
            let before = rest[..at].chars().next_back();
            rest = &rest[after..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
                continue;
            }
            if rest.starts_with('{') {
                // A group may span lines: read to its closing brace.
                let offset = code.lines().take(n).map(|l| l.len() + 1).sum::<usize>()
                    + (line.len() - rest.len());
                for name in group_heads(&code[offset..]) {
                    found.push((n + 1, name));
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push((n + 1, name));
            }
        }
    }
    found
}

/// Where the next path from the crate's root starts in `line` (`crate::`, or `super::`
/// repeated `depth` times or more), and where what follows it begins.
fn root_path(line: &str, depth: usize) -> Option<(usize, usize)> {
    let krate = line.find("crate::").map(|at| (at, at + "crate::".len()));
    let mut supers = None;
    let mut from = 0;
    while let Some(at) = line[from..].find("super::").map(|p| p + from) {
        let mut end = at;
        let mut count = 0;
        while line[end..].starts_with("super::") {
            end += "super::".len();
            count += 1;
        }
        if count >= depth {
            supers = Some((at, end));
            break;
        }
        from = end;
    }
    match (krate, supers) {
        (Some(k), Some(s)) => Some(if k.0 < s.0 { k } else { s }),
        (k, s) => k.or(s),
    }
}

/// The first path segment of each entry of the `{…}` group at the start of `text`.
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            if expecting && depth == 1 {
                word.push(c);
            }
            continue;
        }
        if !word.is_empty() {
            heads.push(std::mem::take(&mut word));
            expecting = false;
        }
        match c {
            '{' => {
                depth += 1;
                expecting = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    if !word.is_empty() {
        heads.push(word);
    }
    heads
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The top-level module a file under `src/` belongs to; `None` for the crate root and
    /// the binary, and for test files.
    fn module_of(rel: &Path) -> Option<String> {
        let first = rel.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        let test_file = rel.file_name().is_some_and(|f| f == "tests.rs")
            || rel.components().any(|c| c.as_os_str() == "tests");
        match name {
            "lib" | "main" | "layers" => None,
            _ if test_file => None,
            _ => Some(name.to_string()),
        }
    }

    /// How deep the module of a file under `src/` is: `app.rs` and `ui/mod.rs` 1,
    /// `store/links.rs` 2.
    fn depth(rel: &Path) -> usize {
        let parts = rel.components().count();
        if rel.file_name().is_some_and(|f| f == "mod.rs") {
            parts - 1
        } else {
            parts
        }
    }

    #[test]
    fn every_import_points_down_the_layers() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        files.sort();
        let mut wrong = Vec::new();
        for file in &files {
            let rel = file.strip_prefix(&src).unwrap();
            let Some(module) = module_of(rel) else {
                continue;
            };
            let Some(own) = layer(&module) else {
                wrong.push(format!(
                    "src/{}: module `{module}` has no layer in src/layers.rs",
                    rel.display()
                ));
                continue;
            };
            let code = without_tests(&code_only(&std::fs::read_to_string(file).unwrap()));
            for (line, used) in crate_uses(&code, depth(rel)) {
                if used == module {
                    continue;
                }
                match layer(&used) {
                    Some(theirs) if theirs < own => {}
                    Some(theirs) => wrong.push(format!(
                        "src/{}:{line}: {module} (layer {own}) uses {used} (layer {theirs})",
                        rel.display()
                    )),
                    None => wrong.push(format!(
                        "src/{}:{line}: uses `crate::{used}`, which has no layer",
                        rel.display()
                    )),
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports against the layers (see src/layers.rs):\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn every_top_level_module_has_a_layer() {
        let lib = include_str!("lib.rs");
        for line in code_only(lib).lines() {
            if let Some(name) = line.trim().strip_prefix("pub mod ")
                && let Some(name) = name.strip_suffix(';')
            {
                assert!(layer(name).is_some(), "src/lib.rs: `{name}` has no layer");
            }
        }
    }

    #[test]
    fn finds_uses_in_paths_and_groups_but_not_in_comments_strings_or_tests() {
        let code = "use crate::store::State;\n\
                    use crate::{config, probe::{Outcome, ProbeReport}};\n\
                    // crate::ui in a comment\n\
                    let s = \"crate::app\"; let c = '{';\n\
                    fn f() { crate::journal::reduce(); let q = '\\''; let b = br\"crate::app\"; \
                    super::super::ui::x(); super::store::y(); }\n\
                    #[cfg(test)]\nmod tests { use crate::ui::View; fn g() { let _ = '}'; } }\n\
                    use crate::{\n    checklist,\n    sanitize::sanitize,\n};\n";
        let uses = crate_uses(&without_tests(&code_only(code)), 2);
        let names: Vec<(usize, &str)> = uses.iter().map(|(l, n)| (*l, n.as_str())).collect();
        assert_eq!(
            names,
            [
                (1, "store"),
                (2, "config"),
                (2, "probe"),
                (5, "journal"),
                (5, "ui"),
                (8, "checklist"),
                (8, "sanitize"),
            ]
        );
    }
}
