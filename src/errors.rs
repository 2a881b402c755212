//! How an error is said in one line: its chain of causes, each said once.

use std::error::Error;

/// The error and its causes joined with `: ` (what anyhow's `{:#}` prints), except a
/// cause whose words the text already holds, or that has none: many errors quote
/// their cause in their own message (`cannot read `x`: No such file or directory (os
/// error 2)`) and also return it as their `source`, and the OS's words would otherwise
/// be printed twice.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        let words = cause.to_string();
        if text.is_empty() {
            text = words;
        } else if !words.is_empty() && !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        next = cause.source();
    }
    text
}
