//! Golden files: what the code produces, compared with what is committed under
//! `tests/golden/` and `schema/`. `UPDATE_GOLDEN=1 cargo test --test it` rewrites them (then
//! the diff is for a reviewer to read).

use std::path::Path;

/// Compares `actual` with the file at `path`, or rewrites the file under `UPDATE_GOLDEN=1`.
/// A difference names the first line that differs, both ways.
pub fn assert_golden(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} is not what the code now produces, first at line {}:\n  expected: {:?}\n  \
             actual:   {:?}\n(UPDATE_GOLDEN=1 cargo test --test it rewrites it)\n\n{actual}",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first),
        );
    }
}

/// [`assert_golden`] for a file of `tests/golden/`.
pub fn assert_golden_file(name: &str, actual: &str) {
    assert_golden(&Path::new("tests/golden").join(name), actual);
}
