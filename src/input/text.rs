//! Reading a file a user hands dockgen (a requirements file, a `pyproject.toml`, a
//! profile, a lock for the audit views) as text: with a size cap, and with invalid
//! UTF-8 reported at its line and column.
//!
//! The cap is read through [`Read::take`], so `-r /dev/zero`, a FIFO or a file growing
//! while it is read stops at the cap instead of filling memory.
//!
//! Also what is said of such text once for every reader: how it is escaped for a
//! message ([`printable`]) and where its `${VAR}` references are ([`variables`]).

use std::borrow::Cow;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;

/// The largest input file dockgen reads: 16 MiB. A requirements file or lock of
/// 100,000 pinned packages with a dozen hashes each is under 15 MiB; what is larger is
/// not an input written by a person or by dockgen.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// The whole file as UTF-8 text (a leading byte-order mark is kept: callers decide).
/// Errors are I/O errors whose message says what is wrong; callers name the file.
pub fn read_text(path: &Path) -> io::Result<String> {
    read_text_capped(std::fs::File::open(path)?, MAX_INPUT_BYTES)
}

fn read_text_capped(reader: impl Read, cap: u64) -> io::Result<String> {
    let mut bytes = Vec::new();
    reader.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "it is larger than {}, the limit for an input file",
                human_size(cap)
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|err| {
        let bytes = err.as_bytes();
        let bad = err.utf8_error().valid_up_to();
        let line_start = bytes[..bad]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = bytes[..line_start].iter().filter(|&&b| b == b'\n').count() + 1;
        // Valid up to `bad`, so this slice is text.
        let column =
            std::str::from_utf8(&bytes[line_start..bad]).map_or(1, |s| s.chars().count() + 1);
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "line {line}, column {column}: not valid UTF-8 (byte 0x{:02x}); save the file \
                 as UTF-8",
                bytes[bad]
            ),
        )
    })
}

/// `text` for an error message: control characters (NUL, escape sequences, carriage
/// returns, tabs) and the bidirectional controls that reorder what a terminal shows
/// are written as escapes (`\0`, `\u{1b}`, `\u{202e}`), so bytes from a file cannot
/// reach the terminal or a CI log as they are. Not for multi-line messages: `\n` is
/// escaped too.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_printable(&mut out, c);
    }
    Cow::Owned(out)
}

/// [`printable`] for a message of several lines: each line escaped, the line breaks kept.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(printable)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// How many characters [`printable`] shows for `c` (for carets under a line).
pub fn printable_width(c: char) -> usize {
    let mut shown = String::new();
    push_printable(&mut shown, c);
    shown.chars().count()
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn push_printable(out: &mut String, c: char) {
    use std::fmt::Write as _;
    match c {
        '\0' => out.push_str("\\0"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Each `${NAME}` in `text` that pip expands (a name of upper-case ASCII letters,
/// digits and `_`): its range, `${` to `}`, and its name. Anything else (`${}`,
/// `${lower}`, an unclosed `${`) is not a variable and is left as written.
pub fn variables(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> + '_ {
    let mut rest = 0;
    std::iter::from_fn(move || {
        while let Some(found) = text[rest..].find("${") {
            let start = rest + found;
            let after = &text[start + 2..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(after.len());
            if name_len > 0 && after[name_len..].starts_with('}') {
                rest = start + 3 + name_len;
                return Some((start..rest, &after[..name_len]));
            }
            rest = start + 2;
        }
        None
    })
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_what_pip_expands() {
        let text = "${A}x${} ${lower} ${B_2}${C ${${D}}";
        let found: Vec<(std::ops::Range<usize>, &str)> = variables(text).collect();
        assert_eq!(found, [(0..4, "A"), (18..24, "B_2"), (30..34, "D")]);
        for (range, name) in found {
            assert_eq!(&text[range], format!("${{{name}}}"));
        }
    }

    fn read(bytes: &[u8], cap: u64) -> String {
        match read_text_capped(bytes, cap) {
            Ok(text) => format!("ok: {text:?}"),
            Err(err) => format!("{:?}: {err}", err.kind()),
        }
    }

    #[test]
    fn text_within_the_cap_is_read_whole() {
        assert_eq!(read(b"numpy\n", 6), "ok: \"numpy\\n\"");
        assert_eq!(read(b"", 0), "ok: \"\"");
    }

    #[test]
    fn a_file_past_the_cap_is_an_error() {
        assert_eq!(
            read(b"numpy\n", 5),
            "FileTooLarge: it is larger than 5 bytes, the limit for an input file"
        );
        // An endless reader stops at the cap.
        let endless = io::repeat(0);
        let err = read_text_capped(endless, MAX_INPUT_BYTES).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is larger than 16 MiB, the limit for an input file"
        );
    }

    #[test]
    fn invalid_utf8_names_the_line_and_column() {
        assert_eq!(
            read(b"numpy\nt\xc3\xa9st==1 \xff\n", 100),
            "InvalidData: line 2, column 9: not valid UTF-8 (byte 0xff); save the file as UTF-8"
        );
        assert_eq!(
            read(b"\xfe", 100),
            "InvalidData: line 1, column 1: not valid UTF-8 (byte 0xfe); save the file as UTF-8"
        );
    }

    #[test]
    fn control_characters_are_escaped_for_messages() {
        assert_eq!(printable("numpy==1"), "numpy==1");
        assert!(matches!(printable("numpy"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\0b\tc\r\x1b[31md\u{202e}e\u{7f}é"),
            "a\\0b\\tc\\r\\u{1b}[31md\\u{202e}e\\u{7f}é"
        );
        assert_eq!(printable_width('\0'), 2);
        assert_eq!(printable_width('\u{1b}'), 6);
        assert_eq!(printable_width('é'), 1);
    }

    #[test]
    fn dev_zero_is_refused_at_the_cap() {
        let path = Path::new("/dev/zero");
        if path.exists() {
            let err = read_text(path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        }
    }
}
