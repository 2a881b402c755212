//! PEP 508 dependency specifiers: the one door to `pep508_rs`'s parser.
//!
//! Every requirement dockgen reads — a line of a requirements file, a `pyproject.toml`
//! dependency, an index's `Requires-Dist` — is parsed by [`parse_requirement`], never by
//! `Requirement::from_str` or `Requirement::parse` directly.
//!
//! Why a door: `pep508_rs` 0.9 panics on some invalid input instead of returning an
//! error. Its name parser accepts a name ending in `-`, `.` or `_` when something
//! follows it (`alpha-==1`) and then `expect`s `PackageName::new` to agree, which it does
//! not; its extras parser does the same with an extra ending so (`pkg[gpu-]`). From an
//! index, that panic took down a resolver thread. [`parse_requirement`] first checks
//! the name and the extras exactly as the parser will read them, and turns what would
//! panic into the error the parser gives for the same name at the end of the input.

use std::path::Path;
use std::str::FromStr;

use pep508_rs::{Pep508Error, Pep508ErrorSource, Requirement};

/// Parse one dependency specifier. `working_dir` resolves relative paths in
/// `name @ ./path` (requirements files and `pyproject.toml`); index metadata has none.
pub fn parse_requirement(
    text: &str,
    working_dir: Option<&Path>,
) -> Result<Requirement, Pep508Error> {
    check_names(text)?;
    match working_dir {
        Some(dir) => Requirement::parse(text, dir),
        None => Requirement::from_str(text),
    }
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
            Err(err) => format!("error at {}: {}", err.start, err.message),
        }
    }

    #[test]
    fn names_ending_in_a_separator_are_errors_not_panics() {
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
        ];
        let out: String = cases
            .iter()
            .map(|case| format!("{case:?}\n  -> {}\n", message(case)))
            .collect();
        insta::assert_snapshot!(out);
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
        ];
        let out: String = cases
            .iter()
            .map(|case| format!("{case:?}\n  -> {}\n", message(case)))
            .collect();
        insta::assert_snapshot!(out);
    }
}
