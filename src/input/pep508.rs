//! PEP 508 dependency specifiers: the one door to `pep508_rs`'s parser.
//!
//! Every requirement dockgen reads — a line of a requirements file, a `pyproject.toml`
//! dependency, an index's `Requires-Dist` — is parsed by [`parse_requirement`], never by
//! `Requirement::from_str` or `Requirement::parse` directly.
//!
//! Why a door: `pep508_rs` 0.9 panics on some invalid input instead of returning an
//! error. Its name parser accepts a name ending in `-`, `.` or `_` when something
//! follows it (`alpha-==1`) and then `expect`s `PackageName::new` to agree, which it does
//! not; its extras parser does the same with an extra ending so (`pkg[gpu-]`). And its
//! marker parser measures the word after a marker expression in characters but cuts
//! it in bytes, so a non-ASCII character there (`os_name == 'x' é`) slices inside a
//! character. From an index, such a panic took down a resolver thread.
//!
//! [`parse_requirement`] first checks the name and the extras exactly as the parser
//! will read them, and that nothing outside quoted strings and the URL is non-ASCII
//! (the grammar allows non-ASCII nowhere else); what would panic becomes an error.
//! The marker check cannot be exact without parsing markers (`os_name == 'x' 'éé'`
//! still reaches the bad slice), so the call itself runs under `catch_unwind`, here
//! and nowhere else, with the panic message kept off stderr: what the parser cannot
//! read is an invalid requirement, whichever way it fails.
//!
//! Last, some of its errors carry a span counted in characters where bytes are meant,
//! and their `Display` then slices inside a character (or asserts); every error
//! leaves here with a span on character boundaries within its input.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::str::FromStr;
use std::sync::Once;

use pep508_rs::{Pep508Error, Pep508ErrorSource, Requirement};

/// Parse one dependency specifier. `working_dir` resolves relative paths in
/// `name @ ./path` (requirements files and `pyproject.toml`); index metadata has none.
pub fn parse_requirement(
    text: &str,
    working_dir: Option<&Path>,
) -> Result<Requirement, Pep508Error> {
    parse_unchecked(text, working_dir).map_err(with_valid_span)
}

/// Parse an environment marker on its own (what follows `;`), through the same checks
/// as a whole specifier: a marker read from a lock is as untrusted as any input.
pub fn parse_marker(text: &str) -> Result<pep508_rs::MarkerTree, Pep508Error> {
    parse_requirement(&format!("marker ; {text}"), None).map(|requirement| requirement.marker)
}

fn parse_unchecked(text: &str, working_dir: Option<&Path>) -> Result<Requirement, Pep508Error> {
    check_names(text)?;
    check_ascii(text)?;
    let parsed = without_panic_output(|| match working_dir {
        Some(dir) => Requirement::parse(text, dir),
        None => Requirement::from_str(text),
    });
    parsed.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Pep508Error {
            message: Pep508ErrorSource::String(format!(
                "Not a valid dependency specifier (the PEP 508 parser failed on it: {why})"
            )),
            start: 0,
            len: text.len().max(1),
            input: text.to_string(),
        })
    })
}

/// The error with its span moved onto character boundaries inside its input, so that
/// its `Display` (and a caret under a line of a file) cannot slice inside a character.
fn with_valid_span(mut error: Pep508Error) -> Pep508Error {
    let input = &error.input;
    let mut start = error.start.min(input.len());
    while !input.is_char_boundary(start) {
        start -= 1;
    }
    if start == input.len() {
        error.len = error.len.min(1);
    } else {
        let mut end = start.saturating_add(error.len).min(input.len());
        while !input.is_char_boundary(end) {
            end += 1;
        }
        error.len = end - start;
    }
    error.start = start;
    error
}

thread_local! {
    /// Set while this thread runs the parser under [`without_panic_output`].
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic; the panic hook stays silent for this thread meanwhile
/// (installed once, it hands every other panic to the hook that was there before).
fn without_panic_output<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|quiet| quiet.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(false));
    result
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn is_separator(c: char) -> bool {
    matches!(c, '-' | '_' | '.')
}

/// Walk the name and the extras the way `pep508_rs` does, and reject a name or an extra
/// that ends in a separator. Anything else, valid or not, is left to the parser.
fn check_names(text: &str) -> Result<(), Pep508Error> {
    let mut chars = text.char_indices().peekable();
    let skip_whitespace = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    // A run of name characters starting at an alphanumeric one; `None` when the text
    // there does not start a name (the parser reports that itself).
    let take_name = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        let (start, first) = chars.next_if(|(_, c)| c.is_ascii_alphanumeric())?;
        let mut last = (start, first);
        while let Some(next) = chars.next_if(|(_, c)| is_name_char(*c)) {
            last = next;
        }
        Some(last)
    };

    skip_whitespace(&mut chars);
    let Some((at, last)) = take_name(&mut chars) else {
        return Ok(());
    };
    if is_separator(last) {
        return Err(error(
            text,
            at,
            format!("Package name must end with an alphanumeric character, not '{last}'"),
        ));
    }
    skip_whitespace(&mut chars);
    if chars.next_if(|(_, c)| *c == '[').is_none() {
        return Ok(());
    }
    let mut first = true;
    loop {
        skip_whitespace(&mut chars);
        match chars.peek() {
            Some((_, ']')) | None => return Ok(()),
            Some((_, ',')) if !first => {
                chars.next();
                skip_whitespace(&mut chars);
            }
            Some(_) if !first => return Ok(()),
            Some(_) => {}
        }
        let Some((at, last)) = take_name(&mut chars) else {
            return Ok(());
        };
        if is_separator(last) {
            return Err(error(
                text,
                at,
                format!("Extra name must end with an alphanumeric character, not '{last}'"),
            ));
        }
        first = false;
    }
}

/// Outside quoted strings (marker values) and the URL of `name @ URL`, PEP 508 is
/// ASCII: reject anything else before the marker parser slices inside a character.
fn check_ascii(text: &str) -> Result<(), Pep508Error> {
    let mut chars = text.char_indices().peekable();
    let mut quote = None;
    let mut in_markers = false;
    while let Some((at, c)) = chars.next() {
        if let Some(open) = quote {
            if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            ';' => in_markers = true,
            '@' if !in_markers => skip_url(&mut chars),
            // Unicode whitespace separates words, as the parser (and packaging) read it.
            c if !c.is_ascii() && !c.is_whitespace() => {
                return Err(Pep508Error {
                    message: Pep508ErrorSource::String(format!(
                        "Unexpected character `{c}`: outside quoted strings and URLs, a \
                         dependency specifier is ASCII"
                    )),
                    start: at,
                    len: c.len_utf8(),
                    input: text.to_string(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Past the URL after `@`, where `pep508_rs` ends it: at a line break, at whitespace
/// followed by `;`, `#` or the end, or after a `;` or `#` followed by whitespace.
fn skip_url(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) {
    while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    while let Some((_, c)) = chars.next() {
        if matches!(c, '\r' | '\n') {
            return;
        }
        if c.is_whitespace() {
            let mut rest = chars.clone();
            while rest.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            if matches!(rest.peek(), None | Some((_, ';' | '#'))) {
                return;
            }
        }
        if matches!(c, ';' | '#') && chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            return;
        }
    }
}

fn error(text: &str, start: usize, message: String) -> Pep508Error {
    Pep508Error {
        message: Pep508ErrorSource::String(message),
        start,
        len: 1,
        input: text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        match parse_requirement(text, None) {
            Ok(req) => format!("ok: {req}"),
            // The whole Display, caret included: it must not panic either.
            Err(err) => format!("error at {}: {err}", err.start).replace('\n', "\n     | "),
        }
    }

    #[test]
    fn what_made_pep508_rs_panic_is_an_error() {
        let cases = [
            "alpha-==1",
            "alpha.>=1",
            "alpha_ ; python_version > '3'",
            "alpha- [x]",
            "alpha-[x]",
            "alpha-@ https://example.com/a.whl",
            "alpha-",
            "  beta.(>=1)",
            "gamma[cpu-]",
            "gamma[cpu-",
            "gamma [ a , b_ ]==1",
            "gamma[a,b.]",
            "gamma[a,b.,c]",
            "a ; os_name == 'x' é",
            "a ; os_name == 'x' andé python_version > '3'",
            "a ; (os_name == 'x' or é)",
            "a é",
            "a==1.0é",
            // Past the ASCII check (inside quotes as it counts them), still a bad slice
            // in the parser: caught.
            "a ; os_name == 'x' 'éé'",
            // pep508_rs's own error for this one had a span inside `é`: its Display
            // panicked.
            "triton==3.1.0; platform_system == \"Linux\" and6platform_machine == \"x86_6\u{fffd}4\"",
        ];
        let out: String = cases
            .iter()
            .map(|case| format!("{case:?}\n  -> {}\n", message(case)))
            .collect();
        insta::assert_snapshot!(out);
    }

    #[test]
    fn a_marker_alone_passes_the_same_checks() {
        let target = pep508_rs::MarkerEnvironment::try_from(pep508_rs::MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: "3.11.13",
            os_name: "posix",
            platform_machine: "x86_64",
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: "3.11.13",
            python_version: "3.11",
            sys_platform: "linux",
        })
        .unwrap();
        let holds = |marker: &str| parse_marker(marker).map(|m| m.evaluate(&target, &[]));
        assert_eq!(holds("sys_platform == 'linux'").ok(), Some(true));
        assert_eq!(holds("python_version < '3.10'").ok(), Some(false));
        for bad in [
            "os_name == 'x' é",
            "os_name == 'x' 'éé'",
            "python_version >",
        ] {
            assert!(holds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn valid_and_other_invalid_input_is_left_to_the_parser() {
        let cases = [
            "alpha==1",
            "a",
            "a-b.c_d [x-y,z] >=1 ; extra == 'x-y'",
            "gamma[]",
            "gamma[a,]",
            "gamma[,a]",
            "gamma[a b]",
            "gamma[-a]",
            "-alpha",
            "",
            "   ",
            "é-==1",
            "a ; os_name == 'é' and platform_release != \"ü\"",
            "a @ https://example.com/café/a-1.0-py3-none-any.whl ; os_name == 'ñ'",
            "a @ file:///tmp/dir with spaces/é.whl",
            "a @ https://example.com/it's-é.whl",
            "a\u{a0}>=1\u{a0};\u{a0}os_name\u{a0}==\u{a0}'x'",
        ];
        let out: String = cases
            .iter()
            .map(|case| format!("{case:?}\n  -> {}\n", message(case)))
            .collect();
        insta::assert_snapshot!(out);
    }
}
