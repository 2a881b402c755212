//! How an error reaches the terminal: its chain of causes, each said once.

/// The error and its causes joined with `: ` (what `{:#}` prints), except a cause
/// whose words the text already holds: many errors quote their cause in their own
/// message (`cannot read `x`: No such file or directory (os error 2)`) and also
/// return it as their `source`, and the OS's words would otherwise be printed twice.
pub fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let words = cause.to_string();
        if text.is_empty() {
            text = words;
        } else if !words.is_empty() && !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read `x`: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    #[test]
    fn a_quoted_cause_is_said_once() {
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = Err::<(), _>(Quoting { source: io() })
            .context("cannot load the profile")
            .unwrap_err();
        assert_eq!(
            describe(&error),
            "cannot load the profile: cannot read `x`: entity not found"
        );
        // A cause that is not quoted is still printed, as `{:#}` prints it.
        let error = Err::<(), _>(io()).context("cannot read `y`").unwrap_err();
        assert_eq!(describe(&error), "cannot read `y`: entity not found");
        assert_eq!(describe(&error), format!("{error:#}"));
    }
}
