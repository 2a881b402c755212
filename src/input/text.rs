//! Reading a file a user hands dockgen (a requirements file, a `pyproject.toml`, a
//! profile, a lock for the audit views) as text: with a size cap, and with invalid
//! UTF-8 reported at its line and column.
//!
//! The cap is read through [`Read::take`], so `-r /dev/zero`, a FIFO or a file growing
//! while it is read stops at the cap instead of filling memory.

use std::io::{self, Read};
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
    fn dev_zero_is_refused_at_the_cap() {
        let path = Path::new("/dev/zero");
        if path.exists() {
            let err = read_text(path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        }
    }
}
